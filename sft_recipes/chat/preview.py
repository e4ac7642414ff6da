"""Show what the model is trained on: each token coloured by what it is, and a PNG strip of many rows.

Trained answers are green, trained reasoning cyan (grey and struck through when ``train_on_reasoning`` is off), tool
calls magenta, other template text a reply writes (``<think>\\n\\n</think>``) yellow, end-of-turn tokens bold green,
the prompt grey. Conversations a template re-renders later are shown as their per-turn rows. Looking at a few rows
before a long run is the cheapest way to catch a mask that trains the prompt, misses the end-of-turn token, or trains
nothing at all.
"""

from __future__ import annotations

from itertools import islice
from pathlib import Path
from typing import Any, Iterable, Sequence

from rich.console import Group
from rich.text import Text

from sft_recipes.chat.masking import IGNORE_INDEX, trained_spans
from sft_recipes.data.jsonl import iter_jsonl

STYLES = {
    "prompt": "grey50",
    "answer": "bold green",
    "reasoning": "cyan",
    "masked": "grey50 strike",
    "tool_call": "magenta",
    "format": "yellow",
    "end_of_turn": "bold green reverse",
}
OPEN_MARK, CLOSE_MARK = "[[", "]]"
BRANCH_MARK = "--- branch {number}: sees the first {shared} tokens and itself ---"


def _header(title: str, row: dict[str, Any]) -> str:
    total = len(row["labels"])
    trained = sum(1 for label in row["labels"] if label != IGNORE_INDEX)
    share = trained / total if total else 0.0
    return f"{title}: {total} tokens, {trained} trained ({share:.1%})"


def preview_rows(tokenizer, rows: Iterable[dict[str, Any]], n: int = 3, titles: Sequence[str] | None = None) -> Group:
    """Rich renderable: the first ``n`` rows token by token, styled by class (``classes``) or trained / masked.

    Token boundaries alternate underlining so merges are visible; newlines are shown as ``\\n``.
    """
    parts: list[Text] = []
    for index, row in enumerate(_first(rows, n)):
        title = titles[index] if titles else f"row {index + 1}" + (f" {row['source']}" if row.get("source") else "")
        parts.append(Text(_header(title, row), style="bold"))
        classes = row.get("classes") or _classes(tokenizer, row)
        body = Text()
        for position, (token, kind) in enumerate(zip(row["input_ids"], classes)):
            piece = tokenizer.decode([token]).replace("\n", "\\n\n")
            body.append(piece, style=STYLES[kind] + (" underline" if position % 2 else ""))
        parts.append(body)
        parts.append(Text(""))
    legend = Text("legend: ")
    for kind, style in STYLES.items():
        legend.append(kind.replace("_", " "), style=style)
        legend.append("  ")
    return Group(legend, Text(""), *parts)


def _classes(tokenizer, row: dict[str, Any]) -> list[str]:
    """Token classes of a row that has none: trained special tokens end turns, other trained tokens answer."""
    special = set(tokenizer.all_special_ids)
    return ["prompt" if label == IGNORE_INDEX else "end_of_turn" if token in special else "answer"
            for token, label in zip(row["input_ids"], row["labels"])]


def preview_text(tokenizer, rows: Iterable[dict[str, Any]], n: int = 3) -> str:
    """Plain text for logs and tests: trained spans wrapped in ``[[ ]]``, decoded span by span. A branch row
    (``group_turns: branches``) shows a ``BRANCH_MARK`` line where each branch starts."""
    blocks = []
    for index, row in enumerate(_first(rows, n)):
        ids, labels = row["input_ids"], row["labels"]
        starts = _branch_starts(row["position_ids"]) if row.get("position_ids") is not None else []
        cuts = [0, *(i for i, _ in starts), len(ids)]
        pieces = []
        for number, (begin, end) in enumerate(zip(cuts, cuts[1:])):
            if number:
                pieces.append("\n" + BRANCH_MARK.format(number=number, shared=starts[number - 1][1]) + "\n")
            pieces += _marked(tokenizer, ids[begin:end], labels[begin:end])
        source = f" {row['source']}" if row.get("source") else ""
        blocks.append(_header(f"row {index + 1}{source}", row) + "\n" + "".join(pieces))
    return "\n\n".join(blocks)


def _branch_starts(position_ids: Sequence[int]) -> list[tuple[int, int]]:
    """(index, shared) of every branch of a stored row, the first (which goes on from the shared prefix) included,
    read as the attention reads them (varlen_attention.py)."""
    import torch

    from sft_recipes.train.varlen_attention import example_bounds, example_branches

    positions = torch.as_tensor([list(position_ids)])
    starts: list[tuple[int, int]] = []
    for start, _, branches in example_branches(example_bounds(1, positions.shape[1], position_ids=positions)[0],
                                               positions, 0):
        if branches:
            starts += [(start + branches[0][2], branches[0][2]), *((s, shared) for s, _, shared in branches)]
    return starts


def _marked(tokenizer, ids: Sequence[int], labels: Sequence[int]) -> list[str]:
    pieces, cursor = [], 0
    for start, end in trained_spans(list(labels)):
        pieces.append(tokenizer.decode(ids[cursor:start]))
        pieces.append(OPEN_MARK + tokenizer.decode(ids[start:end]) + CLOSE_MARK)
        cursor = end
    pieces.append(tokenizer.decode(ids[cursor:]))
    return pieces


def explained_rows(tokenizer, template, conversations: list[dict[str, Any]], options: dict[str, Any], limit: int
                   ) -> tuple[list[dict[str, Any]], list[str]]:
    """The training rows of the first conversations, with token classes and a title each (per-turn rows named)."""
    from sft_recipes.chat.masking import explain_conversation
    from sft_recipes.data.rejects import Reject

    rows: list[dict[str, Any]] = []
    titles: list[str] = []
    for number, conversation in enumerate(conversations, start=1):
        explained = explain_conversation(tokenizer, template, conversation, **options)
        if isinstance(explained, Reject):
            continue
        for turn, row in enumerate(explained, start=1):
            where = f" {conversation['source']}" if conversation.get("source") else ""
            part = f", turn {turn} of {len(explained)} (one row per turn)" if row.layout == "per_turn" else ""
            titles.append(f"conversation {number}{where}{part}")
            rows.append({"input_ids": row.input_ids, "labels": row.labels, "classes": row.classes})
        if len(rows) >= limit:
            break
    return rows[:limit], titles[:limit]


def save_mask_strip(tokenizer, rows: Iterable[dict[str, Any]], path: str | Path, max_rows: int = 64) -> Path:
    """A PNG with one line per example: trained positions green, masked grey, special tokens darker, padding white.

    Shows at a glance whether masks look alike across rows (e.g. every row trains a short tail) or not.
    """
    import numpy as np
    from matplotlib.colors import ListedColormap
    from matplotlib.figure import Figure  # no pyplot: no GUI backend, no global state

    chosen = list(_first(rows, max_rows))
    if not chosen:
        raise ValueError("save_mask_strip needs at least one row")
    special = set(tokenizer.all_special_ids)
    width = max(len(r["input_ids"]) for r in chosen)
    # 0 padding, 1 masked, 2 masked special token, 3 trained, 4 trained special token
    grid = np.zeros((len(chosen), width), dtype=np.int8)
    for i, row in enumerate(chosen):
        for j, (token, label) in enumerate(zip(row["input_ids"], row["labels"])):
            trained = label != IGNORE_INDEX
            grid[i, j] = (3 if trained else 1) + (1 if token in special else 0)
    cmap = ListedColormap(["#ffffff", "#c8c8c8", "#7a7a7a", "#5cc85c", "#1b7a1b"])
    height = min(0.25 * len(chosen) + 1.2, 20)
    fig = Figure(figsize=(min(2 + width / 25, 24), height))
    ax = fig.subplots()
    ax.imshow(grid, aspect="auto", interpolation="nearest", cmap=cmap, vmin=0, vmax=4)
    ax.set_xlabel("token position")
    ax.set_ylabel("example")
    trained_total = int((grid >= 3).sum())
    ax.set_title(f"trained (green) vs masked (grey): {trained_total} of {int((grid > 0).sum())} tokens trained")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    return path


def _first(rows: Iterable[dict[str, Any]], n: int) -> Iterable[dict[str, Any]]:
    for index, row in enumerate(rows):
        if index >= n:
            break
        yield row


def collated_batch_shapes(rows: list[dict], pad_token_id: int) -> dict[str, dict[str, list[int]]]:
    """Tensor shapes of ``rows`` as one batch from the trainer's own collator: padded, and padding-free."""
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    sample = [{"input_ids": r["input_ids"], "labels": r["labels"]} for r in rows]
    if not sample:
        return {}
    out = {}
    for name, free in (("padded", False), ("padding_free", True)):
        batch = DataCollatorForLanguageModeling(pad_token_id=pad_token_id, padding_free=free)(sample)
        out[name] = {k: list(v.shape) for k, v in batch.items() if hasattr(v, "shape") and v.dim() > 0}
    return out


def main(argv: list[str]) -> int:
    """``sft-recipes preview --config RECIPE [--rows N] [--split train] [--plain]``: prepares if needed, then shows
    the split's first conversations as the rows training sees (per-turn rows included), and writes ``preview.png``
    beside the prepared data."""
    import argparse

    from rich.console import Console

    from sft_recipes.recipe import load_recipe
    from sft_recipes.prepare import ensure_prepared

    parser = argparse.ArgumentParser(prog="sft-recipes preview", description="trained vs masked tokens, row by row")
    parser.add_argument("--config", help="recipe YAML (default: the embedded quickstart setup)")
    parser.add_argument("--rows", type=int, default=3, help="rows to show")
    parser.add_argument("--split", default="train", help="train | validation | test")
    parser.add_argument("--plain", action="store_true", help="no colour: trained spans in [[ ]]")
    args, overrides = parser.parse_known_args(argv)
    recipe = load_recipe(args.config, overrides)
    prepared = ensure_prepared(recipe)
    if args.split not in prepared.dataset:
        raise SystemExit(f"error: no {args.split!r} split in {prepared.directory} (have: {list(prepared.dataset)})")
    conversations = [row for _, row in islice(iter_jsonl(prepared.directory / f"{args.split}.jsonl"), args.rows)]
    data = recipe.data
    options = {"train_on": data.train_on, "multi_turn": data.multi_turn, "train_on_reasoning": data.train_on_reasoning,
               "system_message": data.system_message, "allow_control_tokens": data.allow_control_tokens}
    rows, titles = explained_rows(prepared.tokenizer, prepared.template, conversations, options, args.rows)
    if args.plain:
        print(preview_text(prepared.tokenizer, rows, n=args.rows))
    else:
        Console().print(preview_rows(prepared.tokenizer, rows, n=args.rows, titles=titles))
    split = prepared.dataset[args.split]
    first = split.select(range(min(64, len(split)))).to_list()
    strip = save_mask_strip(prepared.tokenizer, first, prepared.directory / "preview.png")
    print(f"mask strip: {strip}")
    shapes = collated_batch_shapes(first[:4], prepared.tokenizer.pad_token_id)
    print("collated batch of 4: " + "; ".join(f"{kind} {v}" for kind, v in shapes.items()))
    return 0
