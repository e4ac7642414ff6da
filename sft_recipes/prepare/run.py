"""Prepare: a recipe's data -> clean, leak-free splits -> the model's template -> verified assistant-only labels.

    read + convert + clean + mix (data/load.py) -> split (group-aware, overlap must be 0)
    -> chat template (chat/templates.py) -> input_ids + labels, every row verified (chat/masking.py)
    -> prepared dir: {train,validation,test}.jsonl, tokenized/, tokenizer/ (+ template_info.json), rejects.jsonl,
       report.{json,md}, plots/

Training reads ``tokenized/`` as it is. ``ensure_prepared`` tokenizes once, on the main process first, and reuses
the result while the recipe's data settings (its fingerprint) are unchanged.
"""

from __future__ import annotations

import bisect
import dataclasses
import hashlib
import json
import os
import shutil
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sft_recipes import SFTRecipesError, __version__
from sft_recipes.data.jsonl import write_jsonl
from sft_recipes.data.rejects import Reject
from sft_recipes.recipe import Recipe, load_recipe

SPLITS = ("train", "validation", "test")
META = "prepared.json"
# Settings outside the data section that change prepared data.
_OTHER_DATA_KEYS = ("model_name_or_path", "max_length", "seed")


class NoTrainableRows(SFTRecipesError):
    pass


@dataclass
class Prepared:
    dataset: Any  # datasets.DatasetDict with input_ids + labels (+ task)
    tokenizer: Any  # with the chat template (and tokens) used in training
    new_token_ids: list[int]
    directory: Path
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def template(self):
        from sft_recipes.chat.template_info import load_template_info

        return load_template_info(self.directory / "tokenizer", self.tokenizer)


@dataclass
class _Tokenized:
    datasets: dict[str, Any] = field(default_factory=dict)
    rejects: list[Reject] = field(default_factory=list)
    truncated: int = 0
    multi_turn: dict[str, Any] = field(default_factory=dict)


def prepared_dir(recipe: Recipe) -> Path:
    return Path(recipe.data.prepared_dir or Path(recipe.training.output_dir) / "data")


def run_paths(recipe: Recipe) -> dict[Path, str]:
    """The folders a run writes, each with the recipe key that sets it (for one-line OS errors)."""
    paths = {Path(recipe.training.output_dir): "output_dir"}
    if recipe.data.prepared_dir:
        paths[Path(recipe.data.prepared_dir)] = "prepared_dir"
    return paths


def fingerprint(recipe: Recipe) -> str:
    """Every data setting (all of the data section, the model, max_length, seed), the content of the local data
    and template files they name, and the package version."""
    data = {f.name: getattr(recipe.data, f.name) for f in dataclasses.fields(recipe.data) if f.name != "prepared_dir"}
    flat = recipe.to_dict()
    named = [str(spec.get("path", "")) for spec in recipe.data.datasets] + [str(recipe.data.chat_template)]
    picked = {**data, **{k: flat.get(k) for k in _OTHER_DATA_KEYS}, "version": __version__,
              "contents": {name: _content_digest(Path(name).expanduser()) for name in named if _is_local(name)}}
    return hashlib.sha256(json.dumps(picked, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _is_local(name: str) -> bool:
    try:
        return bool(name) and len(name) < 4096 and Path(name).expanduser().exists()
    except OSError:  # template text rather than a path
        return False


def _content_digest(path: Path) -> str:
    """sha256 over a file, or over every file of a folder with its relative name."""
    digest = hashlib.sha256()
    for file in sorted(f for f in ([path] if path.is_file() else path.rglob("*")) if f.is_file()):
        digest.update(str(file.relative_to(path)).encode() if file != path else b"")
        with file.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def is_fresh(directory: Path, recipe: Recipe) -> bool:
    meta = directory / META
    if not meta.is_file():
        return False
    return json.loads(meta.read_text()).get("fingerprint") == fingerprint(recipe)


def run_prepare(recipe: Recipe, verbose: bool = True) -> Prepared:
    """Prepare a recipe's data into its prepared dir (waiting while another process prepares into it)."""
    out = prepared_dir(recipe)
    with _prepare_lock(out):
        try:
            return _run_prepare(recipe, verbose)
        except BaseException:
            shutil.rmtree(_temp_dir(out), ignore_errors=True)  # a half-written copy must not hold on to a full disk
            raise


def set_special_tokens(tokenizer, training) -> None:
    """TRL's ``eos_token`` / ``pad_token`` keys: the tokenizer's EOS / padding token, which must be in its vocabulary."""
    from sft_recipes.chat.templates import TemplateError

    for key in ("eos_token", "pad_token"):
        token = getattr(training, key, None)
        if token is None:
            continue
        if tokenizer.convert_tokens_to_ids(token) in (None, tokenizer.unk_token_id):
            raise TemplateError(f"{key}: {token!r} is not a token of the model's vocabulary")
        setattr(tokenizer, key, token)


def _run_prepare(recipe: Recipe, verbose: bool = True) -> Prepared:
    from sft_recipes.chat.templates import setup_chat_template
    from sft_recipes.data.load import load_conversations
    from sft_recipes.inference.models import load_tokenizer

    t0 = time.perf_counter()
    from sft_recipes.train.run import loading_options

    tokenizer = load_tokenizer(recipe.model.model_name_or_path, **loading_options(recipe))
    set_special_tokens(tokenizer, recipe.training)
    template = setup_chat_template(tokenizer, recipe.data.chat_template, recipe.data.chat_template_kwargs)
    loaded = load_conversations(recipe.data, recipe.training.seed)
    splits, overlap, rejects = _split(recipe, loaded)
    tokenized = _tokenize_splits(recipe, splits, tokenizer, template)
    tokenized.rejects = rejects + tokenized.rejects
    if "train" not in tokenized.datasets or len(tokenized.datasets["train"]) == 0:
        from sft_recipes.chat.masking import first_cause

        cause = first_cause(tokenized.rejects) or "the data has no rows"
        raise NoTrainableRows(f"no training row survived preparation: {cause}")
    out = prepared_dir(recipe)
    report = _write_prepared(out, recipe, tokenizer, template, loaded, splits, overlap, tokenized, t0)
    if verbose:
        _print_summary(report, tokenized, out)
    return load_prepared(out)


def _split(recipe: Recipe, loaded) -> tuple[dict[str, list[dict]], dict[str, Any], list[dict]]:
    """Leak-free splits; train and validation conversations of one document joined when ``group_turns: true``
    (``branches`` joins them after tokenizing: _tokenize_splits)."""
    from sft_recipes.data.group_turns import merge_groups
    from sft_recipes.data.load import split_conversations

    seed = recipe.training.seed
    rejects: list[Reject] = list(loaded.rejects)
    splits, overlap = split_conversations(loaded.rows, recipe.data, seed)
    rejects += list(overlap.pop("rejects", []))
    overlap["total"] = overlap["shared_groups"] + overlap["shared_content"] + overlap["shared_prompts"]
    if recipe.data.group_turns is True:  # the test split stays single-turn: every task is evaluated on its own
        for name in ("train", "validation"):
            splits[name] = merge_groups(splits.get(name, []), seed)
    return splits, overlap, rejects


def _tokenize_splits(recipe: Recipe, splits: dict[str, list[dict]], tokenizer, template) -> _Tokenized:
    """Every split through the template and the labels, in one pass (one worker pool); rows below
    ``min_response_tokens`` become rejects."""
    from sft_recipes.chat.masking import IGNORE_INDEX
    from sft_recipes.chat.tokenize import tokenize_dataset
    from sft_recipes.data.branches import merge_branches

    data = recipe.data
    names = [name for name in SPLITS if splits.get(name)]
    rows = [row for name in names for row in splits[name]]
    split_of = [name for name in names for _ in splits[name]]
    num_proc = recipe.training.dataset_num_proc or (min(os.cpu_count() or 1, 4) if len(rows) > 20000 else None)
    branches = data.group_turns == "branches"
    done = tokenize_dataset(
        rows, tokenizer, template, num_proc=num_proc, keep_columns=("task", "group") if branches else ("task",),
        split_of=split_of,
        max_length=recipe.training.max_length, length_policy=data.length_policy, **data.labelling_options())
    result = _Tokenized(rejects=list(done.rejects), truncated=done.truncated,
                        multi_turn={"rows": done.layouts, "conversations": done.conversations, "notes": done.notes})
    origin = done.dataset.select_columns(["row_index"]).to_dict()["row_index"]  # non-decreasing: rows keep order
    cursor, end = 0, 0
    for name in names:
        end += len(splits[name])  # input rows of this split: index < end
        stop = bisect.bisect_left(origin, end, lo=cursor)
        kept, own = done.dataset.select(range(cursor, stop)), origin[cursor:stop]
        cursor = stop
        if data.min_response_tokens > 1:
            labels = kept.select_columns(["labels"]).to_dict()["labels"]
            trained = [sum(1 for x in row if x != IGNORE_INDEX) for row in labels]
            short = {own[i] for i, n in enumerate(trained) if n < data.min_response_tokens}
            for i in sorted(short):
                result.rejects.append(Reject(f"response shorter than min_response_tokens ({data.min_response_tokens})",
                                             rows[i].get("source", ""), rows[i], split=name))
            kept = kept.select([i for i, r in enumerate(own) if r not in short])
            own = [r for r in own if r not in short]
        splits[name] = [rows[i] for i in dict.fromkeys(own)]  # conversations kept, in order
        kept = kept.remove_columns("row_index")
        if branches:  # the test split stays single-turn: every task is evaluated on its own
            kept = merge_branches(kept, recipe.training.max_length) if name != "test" else \
                kept.remove_columns("group")
        result.datasets[name] = kept
    return result


def _write_prepared(out: Path, recipe: Recipe, tokenizer, template, loaded, splits, overlap, tokenized: _Tokenized,
                    t0: float) -> dict[str, Any]:
    """Everything into a temporary dir, then swapped in: a half-written prepared dir is never reused."""
    from datasets import DatasetDict

    from sft_recipes.chat.preview import preview_text
    from sft_recipes.data.report import TokenCounts, build_report, plot_report, text_stats, write_report

    tmp = _fresh_temp_dir(out)
    for name, rows in splits.items():
        write_jsonl(tmp / f"{name}.jsonl", rows)
    write_jsonl(tmp / "rejects.jsonl", [r.to_dict() for r in tokenized.rejects])
    DatasetDict(tokenized.datasets).save_to_disk(str(tmp / "tokenized"))
    tokenizer.save_pretrained(tmp / "tokenizer")
    template.save(tmp / "tokenizer")

    counts = {name: TokenCounts.of(ds) for name, ds in tokenized.datasets.items()}
    samples = [preview_text(tokenizer, [row], n=1) for row in counts["train"].head]
    text = {name: text_stats(rows) for name, rows in splits.items()}
    plots = plot_report(counts, splits, tmp / "plots", text["train"])
    report = build_report(
        splits, counts, loaded.counts, tokenized.rejects, overlap, samples,
        extra={"template": template.to_dict(), "truncated_responses": tokenized.truncated,
               "multi_turn": tokenized.multi_turn, "seconds": round(time.perf_counter() - t0, 2)},
        text=text,
    )
    write_report(report, tmp, plots)
    meta = {"fingerprint": fingerprint(recipe), "template": template.to_dict(), "new_token_ids": template.new_tokens,
            "counts": report["counts"], "rejected": len(tokenized.rejects), "multi_turn": tokenized.multi_turn}
    (tmp / META).write_text(json.dumps(meta, indent=2))
    shutil.rmtree(out, ignore_errors=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp.rename(out)
    return report


def _print_summary(report: dict[str, Any], tokenized: _Tokenized, out: Path) -> None:
    counts = ", ".join(f"{k} {v}" for k, v in report["counts"].items())
    print(f"[sft-recipes] prepared {counts} rows; rejected {len(tokenized.rejects)} (rejects.jsonl)"
          + (f"; truncated {tokenized.truncated} responses" if tokenized.truncated else "")
          + f"; split overlap {report['overlap'].get('total', 0)}; {report['seconds']:.1f}s -> {out}")
    layouts = tokenized.multi_turn
    if layouts["conversations"].get("per_turn"):
        print(f"    multi-turn: {layouts['conversations'].get('whole', 0)} conversations as one row each, "
              f"{layouts['conversations']['per_turn']} as one row per trained turn "
              f"({layouts['rows']['per_turn']} rows): the template renders earlier turns differently later")
    for note, n in layouts["notes"].items():
        print(f"    {note}: {n} conversations")
    for reason, n in report["reject_reasons"].items():
        print(f"    rejected {n:>6}  {reason}")


def _prepare_lock(directory: Path):
    from sft_recipes.runtime.run_lock import waiting_lock

    directory.parent.mkdir(parents=True, exist_ok=True)
    return waiting_lock(directory.with_name(directory.name + ".lock"), f"preparing data into {directory}")


def _fresh_temp_dir(out: Path) -> Path:
    """This process's temp dir beside ``out``. Called under the prepare lock, so other temp dirs there are what
    killed prepares left: removed."""
    for stale in out.parent.glob(f"{out.name}.tmp*"):
        shutil.rmtree(stale, ignore_errors=True)
    tmp = _temp_dir(out)
    tmp.mkdir(parents=True)
    return tmp


def _temp_dir(out: Path) -> Path:
    return out.with_name(f"{out.name}.tmp-{socket.gethostname()}-{os.getpid()}")


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
        if state.is_main_process:
            with _prepare_lock(directory):
                return load_prepared(directory) if is_fresh(directory, recipe) else _run_prepare(recipe)
        if not is_fresh(directory, recipe):
            raise SFTRecipesError(f"prepared data in {directory} is missing or stale after the main process ran")
        return load_prepared(directory)


def main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="sft-recipes prepare", description="prepare a recipe's data")
    parser.add_argument("--config", help="recipe YAML (default: the embedded quickstart setup)")
    args, overrides = parser.parse_known_args(argv)
    recipe = load_recipe(args.config, overrides)
    from sft_recipes.runtime.os_errors import one_line_os_errors
    from sft_recipes.runtime.run_lock import run_lock

    with one_line_os_errors(run_paths(recipe)), run_lock(recipe.training.output_dir):
        run_prepare(recipe)
    return 0
