"""Noisy vs clean data: the same instructions, with part of the responses corrupted, trained alike, compared.

    sft-recipes experiment noisy-vs-clean --config RECIPE [--rate 0.5] [--kinds shuffle,truncate,junk]
                                          [--corruption_seed S] [--no_base] [--retrain] [--out DIR]
                                          [--key value ...]

    1. prepare the recipe as usual (``<out>/data``): the splits every run shares
    2. write its train split twice as conversation rows: as is (``train_clean_<hash>.jsonl``), and with
       ``rate`` of the assistant messages corrupted (``train_noisy_<hash>.jsonl``, see corruption.py);
       the file name carries a hash of the content, so a different rate never reuses stale prepared data
    3. train both from derived recipes that differ ONLY in that data file and their output_dir
       (``<out>/clean``, ``<out>/noisy``): same model, method, hyperparameters and seed; a run already trained
       with the same derived recipe is reused (``--retrain`` trains again)
    4. evaluate base, clean and noisy on the same held-out test rows of step 1 (task metrics, held-out loss):
       ``<out>/eval`` (compare.py's generations.jsonl, metrics.json, report.md, scores.png)
    5. when the recipe names a judge (``judge_base_url`` + ``judge_model``), judge clean vs noisy pairwise, in
       both orders: ``<out>/judge``. The key is read from ``judge_api_key_env`` when set (a local server needs none)
    6. ``<out>/report.md``, ``report.json``, ``noisy_vs_clean.png``

``<out>`` defaults to the recipe's ``output_dir``.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import os
from pathlib import Path
from typing import Any, Sequence

from sft_recipes.data.jsonl import write_jsonl
from sft_recipes.experiments import ExperimentError
from sft_recipes.experiments.corruption import KINDS, check_settings, corrupt_rows

MODELS = ("base", "clean", "noisy")


def read_rows(path: Path) -> list[dict[str, Any]]:
    from sft_recipes.evaluation.compare import read_conversation_rows

    return read_conversation_rows(path)


def write_training_file(rows: Sequence[dict[str, Any]], directory: Path, stem: str) -> Path:
    """Rows as a ``messages`` JSONL named by a hash of its content (so the prepared data is never stale)."""
    lines = [json.dumps({"messages": r["messages"], "id": r.get("id", ""), "task": r.get("task", "")},
                        ensure_ascii=False) for r in rows]
    text = "\n".join(lines) + "\n"
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:10]
    path = directory / f"{stem}_{digest}.jsonl"
    if not path.is_file():
        path.write_text(text, encoding="utf-8")
    return path


def derive_recipe(recipe, data_file: Path, output_dir: Path):
    """The recipe trained on ``data_file`` as it is (no re-splitting, no re-grouping) into ``output_dir``."""
    data = dataclasses.replace(
        recipe.data, datasets=[{"path": str(data_file), "format": "messages"}], validation_size=0.0,
        test_size=0.0, group_turns=False, prepared_dir=None,
    )
    training = copy.deepcopy(recipe.training)
    training.output_dir = str(output_dir)
    return dataclasses.replace(recipe, data=data, training=training, eval=copy.deepcopy(recipe.eval))


# Settings that change how a run executes on this machine, not what it learns.
EXECUTION_KEYS = {"use_cpu", "dataloader_pin_memory", "dataloader_num_workers", "disable_tqdm", "report_to",
                  "logging_steps", "logging_dir", "save_strategy", "save_steps", "save_total_limit"}


def finished_run(recipe) -> dict[str, Any] | None:
    """The summary of a finished run in the recipe's output_dir when it was trained with the same recipe, else None.

    The data file's name carries a hash of its content, so the same recipe means the same data too. This lets an
    interrupted experiment (an evaluation that failed) resume without training both models again.
    """
    import yaml

    run_dir = Path(recipe.training.output_dir)
    if not (run_dir / "summary.json").is_file() or not (run_dir / "recipe.yaml").is_file():
        return None
    saved = yaml.safe_load((run_dir / "recipe.yaml").read_text(encoding="utf-8")) or {}
    wanted = yaml.safe_load(recipe.to_yaml())
    if any(saved.get(k) != wanted.get(k) for k in set(saved) | set(wanted) if k not in EXECUTION_KEYS):
        return None
    return json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))


def prepare_rejects(data_dir: Path) -> dict[str, int]:
    """A prepared dir's rejected rows counted by reason kind ("too long: 1086 > max_length 1024" -> "too long")."""
    reasons = json.loads((data_dir / "report.json").read_text(encoding="utf-8")).get("reject_reasons", {})
    counts: dict[str, int] = {}
    for reason, n in reasons.items():
        kind = reason.split(":")[0]
        counts[kind] = counts.get(kind, 0) + n
    return counts


def judge_backend(recipe):
    """An OpenAI-compatible judge when the recipe names one, else None."""
    ev = recipe.eval
    if not (ev.judge_base_url and ev.judge_model):
        return None
    from sft_recipes.evaluation.judge.backends import OpenAIBackend

    key_env = ev.judge_api_key_env if os.environ.get(ev.judge_api_key_env) else None
    return OpenAIBackend(base_url=ev.judge_base_url, model=ev.judge_model, api_key_env=key_env,
                         seed=recipe.training.seed)


def run_noisy_vs_clean(
    recipe,
    out_dir: str | Path | None = None,
    *,
    rate: float = 0.5,
    kinds: Sequence[str] = KINDS,
    corruption_seed: int | None = None,
    with_base: bool = True,
    num_samples: int | None = None,
    judge=None,
    retrain: bool = False,
) -> dict[str, Any]:
    """Run the whole experiment (see the module doc); ``judge`` overrides the recipe's judge backend.

    A run already trained with the same derived recipe is reused unless ``retrain`` (see ``finished_run``).
    """
    from sft_recipes.prepare import ensure_prepared, prepared_dir

    check_settings(rate, kinds)
    seed = recipe.training.seed if corruption_seed is None else corruption_seed
    out = Path(out_dir or recipe.training.output_dir)
    recipe = _recipe_in(recipe, out)
    ensure_prepared(recipe)
    data_dir = prepared_dir(recipe)
    train_rows, test_rows = _prepared_rows(data_dir)
    corrupted = corrupt_rows(train_rows, rate, seed, kinds)
    files = _write_training_files(train_rows, corrupted, out)
    runs = {name: _train_on(recipe, files[name], out / name, retrain) for name in ("clean", "noisy")}
    metrics = _evaluate(recipe, out, data_dir, test_rows, with_base, num_samples)
    judged = _judge(recipe, out, judge if judge is not None else judge_backend(recipe))

    report = {
        "experiment": "noisy-vs-clean",
        "corruption": {"rate": rate, "kinds": list(kinds), "seed": seed, **corrupted.summary()},
        "data": {"prepared": str(data_dir), "train_rows": len(train_rows), "test_rows": metrics["num_prompts"],
                 **{f"{k}_file": str(v) for k, v in files.items()}},
        "training": runs,
        "eval": {name: _eval_summary(m) for name, m in metrics["models"].items()},
        "judge": judged,
    }
    (out / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    plot_comparison(report, out / "noisy_vs_clean.png")
    (out / "report.md").write_text(render_report(report, corrupted.log), encoding="utf-8")
    print(f"[sft-recipes] noisy vs clean -> {out / 'report.md'}")
    return report


def _recipe_in(recipe, out: Path):
    """A copy of the recipe whose run and prepared data live under ``out``."""
    recipe = dataclasses.replace(recipe, training=copy.deepcopy(recipe.training))
    recipe.training.output_dir = str(out)
    recipe.data = dataclasses.replace(recipe.data, prepared_dir=str(out / "data"))
    return recipe


def _prepared_rows(data_dir: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    train_rows = read_rows(data_dir / "train.jsonl")
    test_file = data_dir / "test.jsonl"
    test_rows = read_rows(test_file) if test_file.is_file() else []
    if not test_rows:
        raise ExperimentError(f"{test_file}: no test rows to evaluate on (set test_size > 0 in the recipe)")
    return train_rows, test_rows


def _write_training_files(train_rows, corrupted, out: Path) -> dict[str, Path]:
    files = {"clean": write_training_file(train_rows, out, "train_clean"),
             "noisy": write_training_file(corrupted.rows, out, "train_noisy")}
    write_jsonl(out / "corruptions.jsonl", corrupted.log)
    print(f"[sft-recipes] corrupted {corrupted.corrupted} of {corrupted.assistant_messages} responses "
          f"({corrupted.kind_counts}) -> {files['noisy']}", flush=True)
    return files


def _train_on(recipe, train_file: Path, run_dir: Path, retrain: bool) -> dict[str, Any]:
    """Train (or reuse) one arm; its summary for the report."""
    from sft_recipes.train import train

    name = run_dir.name
    derived = derive_recipe(recipe, train_file, run_dir)
    summary = None if retrain else finished_run(derived)
    if summary is None:
        print(f"\n[sft-recipes] noisy-vs-clean: training on {name} data", flush=True)
        summary = train(derived).summary
    else:
        print(f"[sft-recipes] noisy-vs-clean: {run_dir} was already trained with these settings (reused; "
              "--retrain to train again)", flush=True)
    run = {k: summary.get(k) for k in ("global_step", "train_loss", "first_logged_loss", "final_logged_loss",
                                       "train_rows", "train_seconds")}
    # corruption changes lengths: a noisy row can pass max_length and be rejected where its clean twin is not
    run["rejected_in_prepare"] = prepare_rejects(run_dir / "data")
    return run


def _evaluate(recipe, out: Path, data_dir: Path, test_rows, with_base: bool, num_samples: int | None) -> dict:
    from sft_recipes.evaluation.compare import compare_models
    from sft_recipes.evaluation.run import eval_dtype, load_heldout_split
    from sft_recipes.inference.settings import GenerationSettings

    models = {"base": recipe.model.model_name_or_path} if with_base else {}
    models.update({"clean": str(out / "clean"), "noisy": str(out / "noisy")})
    return compare_models(
        models, test_rows, out / "eval", GenerationSettings.from_recipe(recipe),
        tokenized=load_heldout_split(data_dir),
        num_samples=num_samples if num_samples is not None else recipe.eval.eval_num_samples,
        dtype=eval_dtype(recipe),
    )


def _judge(recipe, out: Path, backend) -> dict[str, Any] | None:
    """Clean vs noisy answers, judged pairwise, when there is a judge."""
    if backend is None:
        return None
    from sft_recipes.evaluation.judge.runner import run_judging

    summary = run_judging(out / "eval" / "generations.jsonl", out / "judge", "pairwise", backend,
                          models=["clean", "noisy"], seed=recipe.training.seed)
    judged = {k: v for k, v in summary["pairwise"].items() if not k.endswith("_ids")}
    judged["judge_model"] = backend.model
    return judged


def _eval_summary(m: dict[str, Any]) -> dict[str, Any]:
    return {"headline": m["overall"]["headline"], "macro_headline": m["overall"]["macro_headline"],
            "format_adherence": m["overall"]["format_adherence"],
            "heldout_loss": (m.get("heldout") or {}).get("loss"),
            "tasks": {t: v["headline"] for t, v in m["tasks"].items()}}


def plot_comparison(report: dict[str, Any], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ev = report["eval"]
    names = list(ev)
    tasks = ["overall", *sorted({t for m in ev.values() for t in m["tasks"]})]
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(13, 4), gridspec_kw={"width_ratios": [3, 1]})
    try:
        width = 0.8 / len(names)
        for j, name in enumerate(names):
            values = [ev[name]["headline"] if t == "overall" else ev[name]["tasks"].get(t) or 0.0 for t in tasks]
            ax.bar([i + (j - (len(names) - 1) / 2) * width for i in range(len(tasks))], values, width, label=name)
        ax.set_xticks(range(len(tasks)))
        ax.set_xticklabels(tasks, fontsize=8)
        ax.set_ylim(0, 1)
        ax.set_ylabel("headline score")
        ax.legend()
        c = report["corruption"]
        ax.set_title(f"Task scores on the same held-out rows ({c['corrupted']} of {c['assistant_messages']} "
                     f"training responses corrupted)")
        losses = [(n, ev[n]["heldout_loss"]) for n in names if ev[n]["heldout_loss"] is not None]
        bars = ax2.bar([n for n, _ in losses], [v for _, v in losses], color="#8172b2")
        ax2.bar_label(bars, fmt="%.3f")
        ax2.set_title("held-out loss (lower is better)")
        fig.tight_layout()
        fig.savefig(path, dpi=110)
    finally:
        plt.close(fig)
    return path


def _f(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, float) else ("–" if value is None else str(value))


def render_report(report: dict[str, Any], log: Sequence[dict[str, Any]], examples: int = 3) -> str:
    c, ev, runs = report["corruption"], report["eval"], report["training"]
    names = list(ev)
    lines = ["# Noisy vs clean training data", "",
             f"{report['data']['train_rows']} training rows; {c['corrupted']} of {c['assistant_messages']} "
             f"assistant responses corrupted (rate {c['rate']}, applied {c['applied_rate']}; kinds "
             + ", ".join(f"{k} {n}" for k, n in sorted(c["kinds"].items())) + f"; seed {c['seed']}). "
             "Both runs: same model, method, hyperparameters and seed; evaluated on the same "
             f"{report['data']['test_rows']} held-out test rows.", "",
             "## Training", "",
             "| run | rows | rejected by prepare | steps | train loss | first logged loss | last logged loss | seconds |",
             "|---|---|---|---|---|---|---|---|"]
    for name, r in runs.items():
        rejected = ", ".join(f"{k}: {n}" for k, n in sorted((r.get("rejected_in_prepare") or {}).items())) or "0"
        lines.append(f"| {name} | {r['train_rows']} | {rejected} | {r['global_step']} | {_f(r['train_loss'])} | "
                     f"{_f(r['first_logged_loss'])} | {_f(r['final_logged_loss'])} | {_f(r['train_seconds'])} |")
    if len({r["train_rows"] for r in runs.values()}) > 1:
        lines += ["", "The runs trained on different row counts: corrupted rows that grew past max_length were "
                      "rejected by prepare (see `<run>/data/rejects.jsonl`)."]
    delta = "noisy − clean" if {"clean", "noisy"} <= set(names) else None
    lines += ["", "## Evaluation (same held-out rows)", "",
              "| metric | " + " | ".join(names) + (f" | {delta} |" if delta else " |"),
              "|---|" + "---|" * (len(names) + bool(delta))]

    def row(label: str, values: list[Any]) -> str:
        d = values[names.index("noisy")] - values[names.index("clean")] if delta and None not in values else None
        return f"| {label} | " + " | ".join(map(_f, values)) + (f" | {d:+.3f} |" if d is not None else
                                                                  (" | – |" if delta else " |"))

    lines.append(row("headline (per answer)", [ev[n]["headline"] for n in names]))
    lines.append(row("headline (mean of tasks)", [ev[n]["macro_headline"] for n in names]))
    lines.append(row("held-out loss", [ev[n]["heldout_loss"] for n in names]))
    lines.append(row("format adherence", [ev[n]["format_adherence"] for n in names]))
    for task in sorted({t for m in ev.values() for t in m["tasks"]}):
        lines.append(row(f"task: {task}", [ev[n]["tasks"].get(task) for n in names]))
    lines += ["", "![noisy vs clean](noisy_vs_clean.png)", "",
              "Per-task metrics, held-out loss and answers side by side: [eval/report.md](eval/report.md).", ""]
    judge = report.get("judge")
    if judge:
        lines += ["## Judge (clean vs noisy, both orders)", "",
                  f"Judge `{judge['judge_model']}`: clean wins {judge.get('clean_wins')}, ties {judge.get('ties')}, "
                  f"noisy wins {judge.get('noisy_wins')} of {judge.get('complete_pairs')} complete pairs; clean win "
                  f"rate {_f(judge.get('win_rate'))} (95% CI {judge.get('win_rate_ci95')}), position consistency "
                  f"{_f(judge.get('consistency_rate'))}. Details: judge/summary.md.", ""]
    else:
        lines += ["No judge configured (set judge_base_url and judge_model in the recipe to add one).", ""]
    if log:
        lines += ["## Corruption examples", ""]
        seen: set[str] = set()
        for entry in log:
            if entry["kind"] in seen or len(seen) >= examples:
                continue
            seen.add(entry["kind"])
            lines += [f"**{entry['kind']}** ({entry['source']})", "",
                      "```text", entry["original"][:400], "```", "→", "```text", entry["corrupted"][:400], "```", ""]
    lines.append(f"Every corrupted response, before and after: corruptions.jsonl ({len(log)} rows).")
    return "\n".join(lines) + "\n"
