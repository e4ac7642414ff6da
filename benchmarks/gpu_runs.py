"""One GPU benchmark job, in its own process: a training run of one contender, or the correctness checks.

    python -m benchmarks.gpu_runs JOB.json RESULT.json

Contenders (same model directory, rows, max_length, LoRA r16 / alpha 32 / dropout 0 on all linear layers):

    trl_defaults  SFTTrainer with TRL's defaults: padded random batches, sdpa, activation checkpointing on
    trl_best      SFTTrainer + packing (bfd, padding-free rows of max_length) + flash attention 2 when installed +
                  Liger's kernels when installed (TRL's fused chunked cross-entropy is always on)
    sft_recipes   sft-recipes' ``build_trainer`` with its GPU defaults left to decide (gpu_defaults.py: padding-free
                  batches with flash attention when installed, Liger when installed, bf16 base weights for LoRA;
                  activation checkpointing per batch from a memory estimate). QLoRA sets activation checkpointing
                  on: it is the low-memory setting QLoRA exists for.

Measured after ``warmup`` steps, over ``steps`` steps: useful (non-pad) tokens/s, FLOPs under the convention of
flops.GPU_CONVENTION, and the process's peak allocated device memory (weights, optimizer state and activations).
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from benchmarks.measure import BatchMeter

LORA = {"lora_r": 16, "lora_alpha": 32, "lora_dropout": 0.0}


@dataclass
class GpuJob:
    kind: str  # "train" | "checks" | "write" (the shape's random weights)
    model: str  # a benchmarks/gpu_models name
    model_dir: str  # random weights + tokenizer, saved by gpu.py
    data_dir: str  # the rows (datasets.Dataset on disk: input_ids, labels)
    output_dir: str
    method: str = "lora"  # lora | qlora | full
    contender: str = "sft_recipes"  # trl_defaults | trl_best | sft_recipes
    seq: int = 4096
    rows_per_step: int = 6  # padded / padding-free batches
    packed_rows_per_step: int = 1  # packing: rows of seq tokens
    warmup: int = 3
    steps: int = 10
    learning_rate: float = 1e-4
    tiny: bool = False  # the 2-layer version of the shape (CPU tests)


class StepClock:
    """A TrainerCallback: wall time of the steps after ``warmup`` (device synchronised at both ends)."""

    def __init__(self, warmup: int):
        from transformers import TrainerCallback

        self.warmup, self.start, self.end = warmup, None, None
        clock = self

        class _Cb(TrainerCallback):
            def on_train_begin(self, args, state, control, model=None, **kw):
                clock.meter.attach(model)

            def on_step_begin(self, args, state, control, **kw):
                if state.global_step == clock.warmup:
                    _sync()
                    clock.start = time.perf_counter()

            def on_step_end(self, args, state, control, **kw):
                _sync()
                clock.end = time.perf_counter()

        self.meter = BatchMeter()
        self.callback = _Cb()

    def measured(self) -> dict[str, Any]:
        s = self.meter.stats
        if self.start is None or s.steps <= self.warmup:
            raise RuntimeError(f"fewer than {self.warmup + 1} steps ran")
        seconds = self.end - self.start
        tokens = sum(s.useful_per_step[self.warmup:])
        return {"seconds": round(seconds, 3), "steps": s.steps - self.warmup, "useful_tokens": tokens,
                "tokens_per_s": round(tokens / seconds, 1), "non_pad_share": round(s.non_pad_share, 4),
                "causal_pairs_per_token": s.causal_pairs / max(s.useful_tokens, 1),
                "scored_per_token": s.trained_tokens / max(s.useful_tokens, 1)}


def _sync() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def _rows(job: GpuJob):
    from datasets import load_from_disk

    return load_from_disk(job.data_dir)


def _lora_config():
    from trl import ModelConfig

    from sft_recipes.train.methods import lora_config

    return lora_config(ModelConfig(use_peft=True, lora_target_modules=["all-linear"], **LORA))


def _load_for_trl(job: GpuJob, best: bool):
    import torch
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    from sft_recipes.train.attention_choice import flash_attention_installed

    kwargs: dict[str, Any] = {"dtype": torch.bfloat16 if torch.cuda.is_available() else torch.float32}
    if best and torch.cuda.is_available() and flash_attention_installed():
        kwargs["attn_implementation"] = "flash_attention_2"
    if job.method == "qlora":
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=kwargs["dtype"])
        if torch.cuda.is_available():
            kwargs["device_map"] = {"": 0}
    return AutoModelForCausalLM.from_pretrained(job.model_dir, **kwargs)


def liger_installed() -> bool:
    from transformers.utils import is_liger_kernel_available

    return bool(is_liger_kernel_available())


def train_trl(job: GpuJob, clock: StepClock) -> dict[str, Any]:
    import torch
    from transformers import AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    best = job.contender == "trl_best"
    model = _load_for_trl(job, best)
    options: dict[str, Any] = {"per_device_train_batch_size": job.rows_per_step}
    if best:
        options = {"packing": True, "packing_strategy": "bfd", "per_device_train_batch_size": job.packed_rows_per_step,
                   "use_liger_kernel": liger_installed()}
    on_gpu = torch.cuda.is_available()
    args = SFTConfig(output_dir=job.output_dir, max_length=job.seq, max_steps=job.warmup + job.steps,
                     learning_rate=job.learning_rate, bf16=on_gpu, use_cpu=not on_gpu, report_to="none",
                     save_strategy="no", logging_steps=10, **options)
    trainer = SFTTrainer(model=model, args=args, train_dataset=_rows(job),
                         processing_class=AutoTokenizer.from_pretrained(job.model_dir),
                         peft_config=None if job.method == "full" else _lora_config(), callbacks=[clock.callback])
    trainer.train()
    return {"settings": {"packing": bool(args.packing), "padding_free": bool(trainer.padding_free),
                         "attention": model.config._attn_implementation,
                         "activation_checkpointing": bool(args.activation_checkpointing),
                         "liger": bool(args.use_liger_kernel), "rows_per_step": args.per_device_train_batch_size,
                         "weights": str(next(model.parameters()).dtype)}}


def sft_recipes_recipe(job: GpuJob, **extra: Any):
    from sft_recipes.recipe import load_recipe

    values: dict[str, Any] = {
        "model_name_or_path": job.model_dir, "use_peft": job.method != "full", "lora_target_modules": ["all-linear"],
        "output_dir": job.output_dir, "max_length": job.seq, "per_device_train_batch_size": job.rows_per_step,
        "max_steps": job.warmup + job.steps, "learning_rate": job.learning_rate, "logging_steps": 10,
        "save_strategy": "no", "eval_strategy": "no", "validation_size": 0.0, "test_size": 0.0, **extra,
    }
    if job.method != "full":
        values.update(LORA)
    if job.method == "qlora":
        values.update(load_in_4bit=True, bnb_4bit_quant_type="nf4", use_bnb_nested_quant=True,
                      activation_checkpointing=True)
    return load_recipe(None, **values)


def prepared_rows(job: GpuJob, rows=None):
    """What ``prepare`` would hand to training: the tokenizer and the tokenized rows (no template: raw rows)."""
    from datasets import DatasetDict
    from transformers import AutoTokenizer

    return SimpleNamespace(tokenizer=AutoTokenizer.from_pretrained(job.model_dir), new_token_ids=[], template=None,
                           dataset=DatasetDict({"train": rows if rows is not None else _rows(job)}))


def train_sft_recipes(job: GpuJob, clock: StepClock) -> dict[str, Any]:
    from sft_recipes.train import build_trainer, checkpointing_summary

    recipe = sft_recipes_recipe(job)
    trainer = build_trainer(recipe, prepared_rows(job), callbacks=[clock.callback])
    trainer.train()
    args = trainer.args
    return {"settings": {"packing": bool(args.packing), "padding_free": bool(trainer.padding_free),
                         "attention": trainer.model.config._attn_implementation,
                         "activation_checkpointing": checkpointing_summary(trainer),
                         "liger": bool(args.use_liger_kernel), "rows_per_step": args.per_device_train_batch_size,
                         "weights": str(next(trainer.model.get_base_model().parameters()).dtype)
                         if hasattr(trainer.model, "get_base_model") else str(next(trainer.model.parameters()).dtype)}}


def run_train(job: GpuJob) -> dict[str, Any]:
    import torch

    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    clock = StepClock(job.warmup)
    runner = train_sft_recipes if job.contender == "sft_recipes" else train_trl
    out = runner(job, clock)
    out.update(clock.measured())
    if torch.cuda.is_available():
        out["peak_allocated_gb"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
        out["peak_reserved_gb"] = round(torch.cuda.max_memory_reserved() / 2**30, 2)
    return out


def run_kind(job: GpuJob) -> dict[str, Any]:
    """``write`` the model's random weights, run the ``checks``, or ``train`` one contender."""
    if job.kind == "write":
        from benchmarks.gpu_data import write_model

        return {"seconds": round(write_model(job.model, Path(job.model_dir), tiny=job.tiny), 1)}
    if job.kind == "checks":
        from benchmarks.gpu_checks import run_checks

        return run_checks(job)
    return run_train(job)


def main(argv: list[str]) -> int:
    job_path, result_path = argv
    job = GpuJob(**json.loads(Path(job_path).read_text()))
    Path(result_path).write_text(json.dumps({"job": asdict(job), **run_kind(job)}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
