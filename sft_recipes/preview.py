"""Show what the model is trained on: each token coloured trained (green) or masked (grey), and a PNG strip.

Looking at a few rows before a long run is the cheapest way to catch a mask that trains the prompt, misses the
end-of-turn token, or trains nothing at all.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Sequence

from rich.console import Group
from rich.text import Text

from sft_recipes.masking import IGNORE_INDEX, trained_spans

TRAINED_STYLE = "bold green"
MASKED_STYLE = "grey50"
OPEN_MARK, CLOSE_MARK = "[[", "]]"


def _counts(labels: Sequence[int]) -> tuple[int, int]:
    trained = sum(1 for label in labels if label != IGNORE_INDEX)
    return len(labels), trained


def _header(index: int, row: dict[str, Any]) -> str:
    total, trained = _counts(row["labels"])
    share = trained / total if total else 0.0
    source = f" {row['source']}" if row.get("source") else ""
    return f"row {index + 1}{source}: {total} tokens, {trained} trained ({share:.1%})"


def preview_rows(tokenizer, rows: Iterable[dict[str, Any]], n: int = 3) -> Group:
    """Rich renderable: the first ``n`` rows token by token, trained tokens green, masked grey.

    Token boundaries alternate between two shades so merges are visible; newlines are shown as ``\\n``.
    """
    parts: list[Text] = []
    for index, row in enumerate(_first(rows, n)):
        parts.append(Text(_header(index, row), style="bold"))
        body = Text()
        for position, (token, label) in enumerate(zip(row["input_ids"], row["labels"])):
            piece = tokenizer.decode([token]).replace("\n", "\\n\n")
            style = TRAINED_STYLE if label != IGNORE_INDEX else MASKED_STYLE
            if position % 2:
                style += " underline"
            body.append(piece, style=style)
        parts.append(body)
        parts.append(Text(""))
    return Group(*parts)


def preview_text(tokenizer, rows: Iterable[dict[str, Any]], n: int = 3) -> str:
    """Plain text for logs and tests: trained spans wrapped in ``[[ ]]``, decoded span by span."""
    blocks = []
    for index, row in enumerate(_first(rows, n)):
        ids, labels = row["input_ids"], row["labels"]
        pieces, cursor = [], 0
        for start, end in trained_spans(labels):
            pieces.append(tokenizer.decode(ids[cursor:start]))
            pieces.append(OPEN_MARK + tokenizer.decode(ids[start:end]) + CLOSE_MARK)
            cursor = end
        pieces.append(tokenizer.decode(ids[cursor:]))
        blocks.append(_header(index, row) + "\n" + "".join(pieces))
    return "\n\n".join(blocks)


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


def main(argv: list[str]) -> int:
    """``sft-recipes preview --config RECIPE [--rows N] [--split train] [--plain]``: prepares if needed, then shows
    rows from the tokenized split and writes ``preview.png`` beside the prepared data."""
    import argparse

    from rich.console import Console

    from sft_recipes.config import load_recipe
    from sft_recipes.prepare import ensure_prepared

    parser = argparse.ArgumentParser(prog="sft-recipes preview", description="trained vs masked tokens, row by row")
    parser.add_argument("--config", help="recipe YAML (default: the embedded quickstart setup)")
    parser.add_argument("--rows", type=int, default=3, help="rows to show")
    parser.add_argument("--split", default="train", help="train | validation | test")
    parser.add_argument("--plain", action="store_true", help="no colour: trained spans in [[ ]]")
    args, overrides = parser.parse_known_args(argv)
    prepared = ensure_prepared(load_recipe(args.config, overrides))
    if args.split not in prepared.dataset:
        raise SystemExit(f"error: no {args.split!r} split in {prepared.directory} (have: {list(prepared.dataset)})")
    rows = prepared.dataset[args.split].select(range(min(args.rows, len(prepared.dataset[args.split])))).to_list()
    if args.plain:
        print(preview_text(prepared.tokenizer, rows, n=args.rows))
    else:
        Console().print(preview_rows(prepared.tokenizer, rows, n=args.rows))
    strip = save_mask_strip(prepared.tokenizer, prepared.dataset[args.split].select(
        range(min(64, len(prepared.dataset[args.split])))).to_list(), prepared.directory / "preview.png")
    print(f"mask strip: {strip}")
    return 0
