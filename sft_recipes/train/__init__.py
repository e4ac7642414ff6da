"""Training: a recipe -> TRL's SFTTrainer on the prepared, verified labels -> a run directory.

    run.py          train(recipe): method checks, model (+ LoRA / 4-bit), trainer, summary; `sft-recipes train`
    methods.py      LoRA / QLoRA / full fine-tuning settings from TRL's ModelConfig
    trainer.py      SFTTrainer with the CPU loss at labelled positions only and length-windowed batches
    checkpoints.py  checkpoints written complete or not at all; the newest complete one found
    resume.py       a resumed run ends as if never interrupted (whole-run totals, one metrics line per step)
    run_log.py      metrics.jsonl, training_curves.png, summary.json / summary.md
    attention_choice.py      which attention a run uses (varlen_sdpa on CPU, flash attention 2 on CUDA)
    varlen_attention.py      per-example attention for padding-free batches on CPU (registered with transformers)
    checkpointing_policy.py  activation checkpointing decided per batch from its tokens and a memory estimate
    cpu_launch.py            multi-process launches without a GPU: gloo DDP, DeepSpeed over gloo, FSDP refused
    launch.py                train --accelerate_config NAME / `sft-recipes launch NAME`: accelerate launch of training
"""

from sft_recipes.train.run import (
    TrainResult,
    build_trainer,
    checkpointing_summary,
    load_training_model,
    main,
    resolve_resume,
    train,
)

__all__ = ["TrainResult", "build_trainer", "checkpointing_summary", "load_training_model", "main", "resolve_resume", "train"]
