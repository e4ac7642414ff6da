"""Data preparation speed: sft-recipes ``prepare`` against TRL's own SFTTrainer dataset preparation, same rows.

    sft_recipes  ``sft_recipes.prepare.run_prepare(recipe)``, the real path: read, convert, clean and dedupe, split,
                 render + label + verify every row, write the jsonl splits, tokenized/, rejects, report and plots
    trl          read the same file into conversations, then ``SFTTrainer._prepare_dataset`` with
                 ``assistant_only_loss=True`` on SmolLM2's ChatML template with ``{% generation %}`` markers around
                 each assistant answer and its ``<|im_end|>`` (TRL cannot patch that template itself)

Both tokenize with the same tokenizer, the same number of processes and max_length; both totals of trained
(assistant) tokens are reported, so a faster contender that trained less would show. Each runs in its own process
(``python -m benchmarks.prep JOB.json RESULT.json``).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.measure import peak_rss_mb

# SmolLM2's own template, rendering the same text, with the assistant answer and its end-of-turn token marked.
CHATML_GENERATION_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}"
    "{% endif %}"
    "{% if message['role'] == 'assistant' %}"
    "{{ '<|im_start|>assistant\n' }}{% generation %}{{ message['content'] + '<|im_end|>' }}{% endgeneration %}"
    "{{ '\n' }}"
    "{% else %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def num_proc_for(rows: int) -> int | None:
    """The process count sft-recipes picks for ``rows`` rows (prepare.py); TRL gets the same."""
    import os

    return min(os.cpu_count() or 1, 4) if rows > 20000 else None


def prepare_sft_recipes(job: dict[str, Any]) -> dict[str, Any]:
    from sft_recipes.recipe import load_recipe
    from sft_recipes.prepare import run_prepare

    recipe = load_recipe(
        None,
        model_name_or_path=job["model"],
        datasets=[{"path": job["data_file"], "format": "alpaca"}],
        prepared_dir=job["out_dir"],
        output_dir=job["out_dir"],
        max_length=job["max_length"],
        seed=42,
    )
    start = time.perf_counter()
    prepared = run_prepare(recipe, verbose=False)
    seconds = time.perf_counter() - start
    rows = sum(len(ds) for ds in prepared.dataset.values())
    trained = sum(sum(1 for x in labels if x != -100)
                  for ds in prepared.dataset.values() for labels in ds["labels"])
    rejected = prepared.meta.get("rejected", 0)
    return {"seconds": round(seconds, 2), "rows_out": rows, "rejected": rejected, "trained_tokens": trained,
            "num_proc": recipe.training.dataset_num_proc or num_proc_for(rows + rejected),
            "does": "read, convert, dedupe, split, template + labels + per-row checks, write splits/tokenized/"
                    "rejects/report/plots"}


def prepare_trl(job: dict[str, Any]) -> dict[str, Any]:
    import torch
    from datasets import Dataset
    from transformers import AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from benchmarks.data import to_messages
    from sft_recipes.inference.models import load_model, resolve_model

    path = resolve_model(job["model"]).path
    tokenizer = AutoTokenizer.from_pretrained(path)
    tokenizer.chat_template = CHATML_GENERATION_TEMPLATE
    model = load_model(job["model"], dtype=torch.float32)
    n_rows = sum(1 for _ in open(job["data_file"], encoding="utf-8"))
    args = SFTConfig(output_dir=job["out_dir"], bf16=False, assistant_only_loss=True, report_to="none",
                     max_length=job["max_length"], dataset_num_proc=num_proc_for(n_rows))
    probe = Dataset.from_list([{"messages": to_messages({"instruction": "Say hi.", "output": "Hi."})}] * 2)
    trainer = SFTTrainer(model=model, args=args, train_dataset=probe, processing_class=tokenizer)

    start = time.perf_counter()
    with open(job["data_file"], encoding="utf-8") as f:
        records = [json.loads(line) for line in f if line.strip()]
    dataset = Dataset.from_list([{"messages": to_messages(r)} for r in records])
    prepared = trainer._prepare_dataset(dataset, tokenizer, args, False, None, "train")
    seconds = time.perf_counter() - start
    trained = sum(sum(1 for x in labels if x != -100) for labels in prepared["labels"])
    return {"seconds": round(seconds, 2), "rows_out": len(prepared), "rejected": len(records) - len(prepared),
            "trained_tokens": trained, "num_proc": args.dataset_num_proc,
            "does": "read, convert to messages, template + assistant masks, labels, truncate, drop fully masked"}


RUNNERS = {"sft_recipes": prepare_sft_recipes, "trl": prepare_trl}


def main(argv: list[str]) -> int:
    job_path, result_path = argv
    job = json.loads(Path(job_path).read_text())
    result = RUNNERS[job["contender"]](job)
    result.update(contender=job["contender"], rows_in=job["rows"], peak_rss_mb=round(peak_rss_mb(), 1))
    result["rows_per_s"] = round(job["rows"] / result["seconds"], 1) if result["seconds"] else None
    Path(result_path).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
