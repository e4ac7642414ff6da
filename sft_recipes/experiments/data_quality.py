"""Data quality of any data set: a recipe's datasets, or one file.

    sft-recipes experiment data-quality --config RECIPE [--out DIR] [--threshold 0.7] [--key value ...]
    sft-recipes experiment data-quality --data FILE [--format alpaca] [--config RECIPE] [--out DIR]

The rows are read, converted and cleaned exactly as ``prepare`` reads them (so exact duplicates and empty rows are
already counted as rejected, and every other row is analysed); token lengths use the recipe's tokenizer (the
embedded model's without a recipe) and its ``max_length``. The analysis is ``sft_recipes/data/quality.py``.
Writes ``report.md``, ``report.json`` and ``plots/*.png`` into ``--out`` (default ``<output_dir>/data_quality``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sft_recipes.data.rejects import reason_counts
from sft_recipes.data.quality import NEAR_DUP_THRESHOLD, analyze_rows
from sft_recipes.data.quality_report import write_quality_report


def run_data_quality(recipe, out_dir: str | Path | None = None, *, threshold: float = NEAR_DUP_THRESHOLD,
                     title: str | None = None) -> dict[str, Any]:
    from sft_recipes.data.load import load_conversations
    from sft_recipes.inference.models import load_tokenizer

    loaded = load_conversations(recipe.data, recipe.training.seed)
    tokenizer = load_tokenizer(recipe.model.model_name_or_path)
    report = analyze_rows(loaded.rows, tokenizer, max_length=recipe.training.max_length, threshold=threshold,
                          seed=recipe.training.seed)
    report["source"] = ", ".join(spec.path for spec in recipe.data.dataset_specs)
    report["rejected"] = reason_counts(loaded.rejects)
    out = Path(out_dir) if out_dir else Path(recipe.training.output_dir) / "data_quality"
    paths = write_quality_report(report, out, title=title or f"Data quality: {report['source']}")
    nd, d = report["near_duplicates"], report["diversity"]
    print(f"[sft-recipes] {report['rows']} rows; unique-instruction ratio {d['unique_instruction_ratio']:.3f}; "
          f"distinct-2 {d['distinct_2']:.3f}; near-duplicate pairs {nd['pairs']} -> {paths['markdown']}")
    return {k: v for k, v in report.items() if not k.startswith("_")}
