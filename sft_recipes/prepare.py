"""Prepare: a recipe's data -> clean, leak-free splits -> the model's template -> verified assistant-only labels.

    read + convert + clean + mix (data/load.py) -> split (group-aware, overlap must be 0)
    -> chat template (templates.py) -> input_ids + labels, every row verified (masking.py)
    -> prepared dir: {train,validation,test}.jsonl, tokenized/, tokenizer/, rejects.jsonl, report.{json,md}, plots/

Training reads ``tokenized/`` as it is. ``ensure_prepared`` tokenizes once, on the main process first, and reuses
the result while the recipe's data settings (its fingerprint) are unchanged.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sft_recipes import SFTRecipesError
from sft_recipes.config import Recipe, load_recipe

SPLITS = ("train", "validation", "test")
META = "prepared.json"
# Recipe keys whose change makes a prepared dir stale.
DATA_KEYS = (
    "model_name_or_path", "datasets", "system_prompt", "legal_system_prompt", "court_tasks", "synthetic_opinions",
    "synthetic_seed", "synthetic_max_words", "chat_template", "train_on", "length_policy", "min_response_tokens", "dedupe",
    "validation_size", "test_size", "max_length", "seed", "group_turns",
)


class NoTrainableRows(SFTRecipesError):
    pass


@dataclass
class Prepared:
    dataset: Any  # datasets.DatasetDict with input_ids + labels (+ task)
    tokenizer: Any  # with the chat template (and tokens) used in training
    new_token_ids: list[int]
    directory: Path
    meta: dict[str, Any] = field(default_factory=dict)


def prepared_dir(recipe: Recipe) -> Path:
    return Path(recipe.data.prepared_dir or Path(recipe.training.output_dir) / "data")


def fingerprint(recipe: Recipe) -> str:
    flat = recipe.to_dict()
    flat.update({"max_length": recipe.training.max_length, "seed": recipe.training.seed})
    picked = {k: flat.get(k) for k in DATA_KEYS}
    return hashlib.sha256(json.dumps(picked, sort_keys=True, default=str).encode()).hexdigest()[:16]


def is_fresh(directory: Path, recipe: Recipe) -> bool:
    meta = directory / META
    if not meta.is_file():
        return False
    return json.loads(meta.read_text()).get("fingerprint") == fingerprint(recipe)


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def run_prepare(recipe: Recipe, verbose: bool = True) -> Prepared:
    from datasets import Dataset, DatasetDict

    from sft_recipes.data.group_turns import merge_groups
    from sft_recipes.data.load import load_conversations, split_conversations
    from sft_recipes.data.report import build_report, plot_report, write_report
    from sft_recipes.masking import first_cause, tokenize_dataset
    from sft_recipes.models import load_tokenizer
    from sft_recipes.preview import preview_text
    from sft_recipes.templates import setup_chat_template

    say = print if verbose else (lambda *a, **k: None)
    t0 = time.perf_counter()
    out = prepared_dir(recipe)
    seed = recipe.training.seed
    tokenizer = load_tokenizer(recipe.model.model_name_or_path)
    template = setup_chat_template(tokenizer, recipe.data.chat_template)

    loaded = load_conversations(recipe.data, seed)
    rejects: list[dict] = [dict(r) for r in loaded.rejects]
    splits, overlap = split_conversations(loaded.rows, recipe.data, seed)
    rejects += list(overlap.pop("rejects", []))
    overlap["total"] = overlap["shared_groups"] + overlap["shared_content"] + overlap["shared_prompts"]
    if recipe.data.group_turns:  # the test split stays single-turn: every task is evaluated on its own
        for name in ("train", "validation"):
            splits[name] = merge_groups(splits.get(name, []), seed)

    num_proc = recipe.training.dataset_num_proc or (min(os.cpu_count() or 1, 4) if len(loaded.rows) > 20000 else None)
    tokenized: dict[str, Any] = {}
    truncated = 0
    for name in SPLITS:
        rows = splits.get(name, [])
        if not rows:
            continue
        ds = Dataset.from_list(rows).add_column("row_index", list(range(len(rows))))
        result = tokenize_dataset(
            ds,
            tokenizer,
            train_on=recipe.data.train_on,
            max_length=recipe.training.max_length,
            length_policy=recipe.data.length_policy,
            num_proc=num_proc,
            keep_columns=("task", "row_index"),
        )
        rejects += [r.to_dict() | {"split": name} for r in result.rejects]
        truncated += result.truncated
        kept = result.dataset
        minimum = recipe.data.min_response_tokens
        if minimum > 1:
            trained = [sum(1 for x in labels if x != -100) for labels in kept["labels"]]
            for i in (i for i, n in enumerate(trained) if n < minimum):
                row = rows[kept[i]["row_index"]]
                rejects.append({"reason": f"response shorter than min_response_tokens ({minimum})",
                                "source": row.get("source", ""), "row": row, "split": name})
            kept = kept.select([i for i, n in enumerate(trained) if n >= minimum])
        splits[name] = [rows[i] for i in kept["row_index"]]
        tokenized[name] = kept.remove_columns("row_index")

    if "train" not in tokenized or len(tokenized["train"]) == 0:
        cause = first_cause(rejects) or "the data has no rows"
        raise NoTrainableRows(f"no training row survived preparation: {cause}")

    # write everything into a temp dir, then swap it in: a half-written prepared dir is never reused
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name, rows in splits.items():
        _write_jsonl(tmp / f"{name}.jsonl", rows)
    _write_jsonl(tmp / "rejects.jsonl", rejects)
    DatasetDict(tokenized).save_to_disk(str(tmp / "tokenized"))
    tokenizer.save_pretrained(tmp / "tokenizer")

    tok_rows = {name: ds.to_list() for name, ds in tokenized.items()}
    samples = [preview_text(tokenizer, [row], n=1) for row in tok_rows["train"][:3]]
    plots = plot_report(tok_rows, splits, tmp / "plots")
    report = build_report(
        splits, tok_rows, loaded.counts, rejects, overlap,
        samples, tokenizer.pad_token_id,
        extra={"template": template.to_dict(), "truncated_responses": truncated,
               "seconds": round(time.perf_counter() - t0, 2)},
    )
    write_report(report, tmp, plots)
    meta = {"fingerprint": fingerprint(recipe), "template": template.to_dict(), "new_token_ids": template.new_tokens,
            "counts": report["counts"], "rejected": len(rejects)}
    (tmp / META).write_text(json.dumps(meta, indent=2))
    shutil.rmtree(out, ignore_errors=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp.rename(out)

    counts = ", ".join(f"{k} {v}" for k, v in report["counts"].items())
    say(f"[sft-recipes] prepared {counts} rows; rejected {len(rejects)} (rejects.jsonl)"
        + (f"; truncated {truncated} responses" if truncated else "")
        + f"; split overlap {report['overlap'].get('total', 0)}; {report['seconds']:.1f}s -> {out}")
    for reason, n in report["reject_reasons"].items():
        say(f"    rejected {n:>6}  {reason}")
    return load_prepared(out)


def load_prepared(directory: Path) -> Prepared:
    from datasets import load_from_disk
    from transformers import AutoTokenizer

    directory = Path(directory)
    meta = json.loads((directory / META).read_text())
    dataset = load_from_disk(str(directory / "tokenized"))
    tokenizer = AutoTokenizer.from_pretrained(directory / "tokenizer")
    return Prepared(dataset, tokenizer, list(meta.get("new_token_ids") or []), directory, meta)


def ensure_prepared(recipe: Recipe) -> Prepared:
    """Prepare once: the main process tokenizes while the other ranks wait, then they all read the result."""
    from accelerate import PartialState

    state = PartialState()
    directory = prepared_dir(recipe)
    with state.main_process_first():
        if state.is_main_process and not is_fresh(directory, recipe):
            return run_prepare(recipe)
        if not is_fresh(directory, recipe):
            raise SFTRecipesError(f"prepared data in {directory} is missing or stale after the main process ran")
        return load_prepared(directory)


def main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="sft-recipes prepare", description="prepare a recipe's data")
    parser.add_argument("--config", help="recipe YAML (default: the embedded quickstart setup)")
    args, overrides = parser.parse_known_args(argv)
    run_prepare(load_recipe(args.config, overrides))
    return 0
