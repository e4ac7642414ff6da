"""Train: a recipe -> TRL's SFTTrainer on the pre-tokenized, verified labels from ``prepare``.

    recipe -> check the method -> prepared data (tokenized once, main process first) -> model (+ LoRA / 4-bit)
           -> SFTTrainer -> run dir: adapter or model, tokenizer + chat template, recipe.yaml, metrics.jsonl,
              training_curves.png, summary.json / summary.md

The same function runs under ``sft-recipes train`` and ``accelerate launch scripts/sft.py``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sft_recipes import SFTRecipesError
from sft_recipes.recipe import Recipe, load_recipe
from sft_recipes.train.methods import (
    check_method,
    lora_config,
    method_name,
    quantization_config,
    torch_dtype,
)

NO_RESUME = {"no", "false", "never", "none"}
RERUN = "rerunning the same command resumes from the last complete checkpoint"


@dataclass
class TrainResult:
    output_dir: Path
    global_step: int
    train_loss: float
    summary: dict[str, Any]


def resolve_resume(output_dir: Path, requested: str | None, say=print) -> str | None:
    """``resume_from_checkpoint``: a path, "latest"/None (the newest complete checkpoint in output_dir, if any;
    newer broken ones are skipped and named), or "no"."""
    from sft_recipes.train.checkpoints import checkpoint_problem, latest_complete_checkpoint

    if requested is not None and str(requested).lower() in NO_RESUME:
        return None
    if requested not in (None, "latest", "auto"):
        if not Path(requested).is_dir():
            raise SFTRecipesError(f"resume_from_checkpoint: no checkpoint directory at {requested}")
        problem = checkpoint_problem(Path(requested))
        if problem:
            raise SFTRecipesError(f"resume_from_checkpoint: {requested} cannot be resumed from: {problem}")
        return str(requested)
    chosen, skipped = latest_complete_checkpoint(output_dir)
    for path, problem in skipped:
        say(f"[sft-recipes] skipped {path.name}: {problem}")
    return str(chosen) if chosen else None


def load_training_model(recipe: Recipe, tokenizer, new_token_ids: list[int], template=None):
    """The model as the method needs it: full precision, or 4-bit for QLoRA; embeddings resized for new tokens."""
    import torch
    from accelerate import PartialState

    from sft_recipes.train.attention_choice import attention_at_load, use_varlen_on_cpu
    from sft_recipes.chat.template_info import stop_token_ids
    from sft_recipes.inference.models import load_model

    dtype = torch_dtype(recipe.model, recipe.training)
    quant = quantization_config(recipe.model, compute_dtype=dtype)
    kwargs: dict[str, Any] = {"attn_implementation": attention_at_load(recipe.model, recipe.training),
                              **loading_options(recipe)}
    if quant is not None:
        kwargs["quantization_config"] = quant
        if torch.cuda.is_available():
            kwargs["device_map"] = {"": PartialState().local_process_index}
    model = load_model(recipe.model.model_name_or_path, dtype=dtype, **kwargs)
    # padding-free batches or branch rows on a CPU: per-example attention
    use_varlen_on_cpu(model, recipe.model, recipe.training, branches=recipe.data.group_turns == "branches")
    if len(tokenizer) > model.get_input_embeddings().weight.shape[0]:
        # New special tokens (ChatML on a base model): new rows start at the mean embedding, and are trained.
        model.resize_token_embeddings(len(tokenizer), mean_resizing=True)
    model.config.pad_token_id = tokenizer.pad_token_id
    model.config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    # generation stops where the trained turns end (the template's end-of-turn tokens), and at EOS
    ids = stop_token_ids(tokenizer, template, model.generation_config.eos_token_id)
    model.generation_config.eos_token_id = ids[0] if len(ids) == 1 else ids
    model.config.use_cache = False
    return model


def loading_options(recipe: Recipe) -> dict[str, Any]:
    """``model_revision`` and ``trust_remote_code`` for ``from_pretrained`` (TRL's keys), when set."""
    options: dict[str, Any] = {}
    if recipe.model.model_revision not in (None, "main"):
        options["revision"] = recipe.model.model_revision
    if getattr(recipe.training, "trust_remote_code", False):
        options["trust_remote_code"] = True
    return options


def checkpointing_for(trainer, recipe: Recipe, train_ds):
    """Activation checkpointing per batch, from its tokens and a memory estimate (checkpointing_policy.py)."""
    from sft_recipes.train.attention_choice import padding_free_batches, trains_on_cpu
    from sft_recipes.train.checkpointing_policy import plan_for_run

    args = trainer.args
    model = trainer.model.get_base_model() if hasattr(trainer.model, "get_base_model") else trainer.model
    lengths = [len(ids) for ids in train_ds["input_ids"]]
    lora = recipe.model.use_peft
    trainable = sum(p.numel() for p in trainer.model.parameters() if p.requires_grad)
    policy, line = plan_for_run(model, lengths, args, recipe.model.lora_r if lora else 0,
                                recipe.model.lora_dropout if lora else 0.0, trains_on_cpu(args),
                                padding_free_batches(args), trainable)
    trainer.accelerator.print(f"[sft-recipes] {line}")
    return policy


def check_branches(recipe: Recipe) -> None:
    """Branch rows (``group_turns: branches``) carry their own positions: no padding-free batching or packing
    (TRL would renumber them) and no flash attention (it cannot see a shared prefix)."""
    if recipe.data.group_turns != "branches":
        return
    from sft_recipes.train.attention_choice import padding_free_batches

    if padding_free_batches(recipe.training) or recipe.training.packing:
        raise SFTRecipesError("group_turns: branches takes padded batches: set padding_free and packing to false")
    if "flash" in str(recipe.model.attn_implementation or ""):
        raise SFTRecipesError(f"group_turns: branches needs sdpa or eager attention (a shared prefix is a mask "
                              f"flash attention cannot take), not {recipe.model.attn_implementation}")


def has_sliding_window(model) -> bool:
    """Whether some attention layer sees only a window (one [length, length] mask cannot say that per layer)."""
    config = model.config.get_text_config()
    layer_types = getattr(config, "layer_types", None)
    if layer_types:
        return any("sliding" in t or "chunk" in t for t in layer_types)
    return bool(getattr(config, "sliding_window", None) and getattr(config, "use_sliding_window", True))


def build_trainer(recipe: Recipe, prepared, callbacks: list | None = None):
    from sft_recipes.train.checkpointing_policy import sharded_training
    from sft_recipes.train.run_log import MetricsLogger
    from sft_recipes.train.trainer import SFTRecipesTrainer

    check_branches(recipe)
    model = load_training_model(recipe, prepared.tokenizer, prepared.new_token_ids, prepared.template)
    peft_config = lora_config(recipe.model, prepared.new_token_ids, model)
    train_ds = prepared.dataset["train"]
    eval_ds = prepared.dataset["validation"] if "validation" in prepared.dataset else None
    if eval_ds is not None and len(eval_ds) == 0:
        eval_ds = None
    args = recipe.training
    if eval_ds is None and args.eval_strategy != "no":
        args.eval_strategy = "no"
    if args.padding_free and not args.packing:
        # TRL refuses max_length with padding-free batches it cannot truncate; prepare already enforced it
        args.max_length = None
    per_batch_checkpointing = recipe.activation_checkpointing_auto and not sharded_training(args)
    if per_batch_checkpointing:
        args.activation_checkpointing = False  # the trainer decides before each batch (checkpointing_policy.py)
    collator = None
    if recipe.data.group_turns == "branches":
        from sft_recipes.train.branch_batches import BranchCollator
        from sft_recipes.train.varlen_attention import NAME as VARLEN

        masked = model.config._attn_implementation != VARLEN
        if masked and has_sliding_window(model):
            raise SFTRecipesError("group_turns: branches with sliding-window attention layers needs the per-example "
                                  "attention of a CPU run; use group_turns: true on this model")
        collator = BranchCollator(prepared.tokenizer.pad_token_id, args.pad_to_multiple_of, attention_mask=masked)
    trainer = SFTRecipesTrainer(
        model=model,
        args=args,
        train_dataset=train_ds,
        eval_dataset=eval_ds,
        processing_class=prepared.tokenizer,
        peft_config=peft_config,
        data_collator=collator,
        callbacks=[MetricsLogger(Path(args.output_dir) / "metrics.jsonl"), *(callbacks or [])],
    )
    if per_batch_checkpointing:
        trainer.checkpointing = checkpointing_for(trainer, recipe, train_ds)
    if quantization_config(recipe.model, None) is not None:
        # TRL puts adapters on a quantized base in bfloat16; keep them in the recipe's compute dtype instead
        # (fp32 on CPU), so the saved adapter reloads to exactly the trained model. No optimizer exists yet.
        dtype = torch_dtype(recipe.model, args)
        for param in trainer.model.parameters():
            if param.requires_grad:
                param.data = param.data.to(dtype)
    return trainer


def train(recipe: Recipe, callbacks: list | None = None) -> TrainResult:
    """Train a recipe into its output_dir, which this run holds alone (run_lock.py, which also stops at once on a
    folder it cannot write); a rerun of the same command after a kill resumes from the newest complete checkpoint
    and ends as if never interrupted. OS errors on the run's folders end it with one line (os_errors.py)."""
    from accelerate import PartialState

    from sft_recipes.runtime.os_errors import one_line_os_errors
    from sft_recipes.prepare import run_paths
    from sft_recipes.runtime.run_lock import run_lock_on_main_process

    check_method(recipe.model, recipe.training)
    output_dir = Path(recipe.training.output_dir)
    state = PartialState()
    say = print if state.is_main_process else (lambda *a, **k: None)
    with one_line_os_errors(run_paths(recipe), note=RERUN), run_lock_on_main_process(output_dir, say):
        return _run_training(recipe, output_dir, callbacks, say)


def _run_training(recipe: Recipe, output_dir: Path, callbacks: list | None, say) -> TrainResult:
    from accelerate import PartialState

    from sft_recipes.train.checkpoints import clear_staging
    from sft_recipes.runtime.cpu_threads import warn_if_oversubscribed
    from sft_recipes.evaluation.judge.callback import add_win_rate_callback
    from sft_recipes.prepare import ensure_prepared
    from sft_recipes.train.run_log import plot_training_curves, write_summary

    if PartialState().is_main_process:
        for name in clear_staging(output_dir):
            say(f"[sft-recipes] removed the unfinished save of {name} left by an interrupted run")
        warn_if_oversubscribed()
    resume = resolve_resume(output_dir, recipe.training.resume_from_checkpoint, say)
    prepared = ensure_prepared(recipe)
    trainer = build_trainer(recipe, prepared, callbacks)
    add_win_rate_callback(trainer, recipe, prepared.directory)
    if resume:
        trainer.accelerator.print(f"[sft-recipes] resuming from {resume}")
    result = trainer.train(resume_from_checkpoint=resume)

    eval_metrics = {}
    if trainer.eval_dataset is not None:
        eval_metrics = trainer.evaluate()
    trainer.save_model(str(output_dir))
    summary: dict[str, Any] = {}
    if trainer.is_world_process_zero():
        prepared.tokenizer.save_pretrained(output_dir)
        prepared.template.save(output_dir)
        trainer.model.generation_config.save_pretrained(output_dir)
        (output_dir / "recipe.yaml").write_text(recipe.to_yaml())
        summary = _summary(recipe, prepared, trainer, eval_metrics, resume)
        write_summary(output_dir, summary)
        plot_training_curves(output_dir / "metrics.jsonl", output_dir / "training_curves.png")
        trainer.accelerator.print(
            f"[sft-recipes] done: {summary['global_step']} steps, train loss {summary['train_loss']:.4f}"
            + (f", eval loss {summary['eval_loss']:.4f}" if "eval_loss" in summary else "")
            + f" -> {output_dir}"
        )
    return TrainResult(output_dir, trainer.state.global_step, result.training_loss, summary)


def _summary(recipe, prepared, trainer, eval_metrics, resume) -> dict[str, Any]:
    from sft_recipes.inference.models import resolve_model

    state = trainer.state
    logs = [h for h in state.log_history if "loss" in h]
    totals = trainer.final_totals  # the whole run's, across resumes
    tokens, seconds = totals.num_tokens, totals.train_seconds
    trainable = sum(p.numel() for p in trainer.model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in trainer.model.parameters())
    resolved = resolve_model(recipe.model.model_name_or_path)
    summary = {
        "method": method_name(recipe.model),
        "base_model": resolved.base_hub_id or resolved.display_name,
        "model_name_or_path": recipe.model.model_name_or_path or "embedded",
        "global_step": state.global_step,
        "epochs": state.epoch,
        "train_loss": totals.train_loss,
        "final_logged_loss": logs[-1]["loss"] if logs else None,
        "first_logged_loss": logs[0]["loss"] if logs else None,
        "train_rows": len(prepared.dataset["train"]),
        "validation_rows": len(prepared.dataset["validation"]) if "validation" in prepared.dataset else 0,
        "train_seconds": round(seconds, 2),
        "seconds_per_step": round(seconds / max(state.global_step, 1), 3),
        "tokens_seen": tokens,
        "tokens_per_second": round(tokens / seconds, 1) if tokens and seconds > 0 else None,
        "trainable_parameters": trainable,
        "total_parameters": total,
        "resumed_from": resume,
        "attention": trainer.model.config._attn_implementation,
        "activation_checkpointing": checkpointing_summary(trainer),
        "chat_template": prepared.template.name,
        "end_of_turn": prepared.template.end_of_turn,
        "new_token_ids": prepared.new_token_ids,
    }
    if eval_metrics.get("eval_loss") is not None:
        summary["eval_loss"] = eval_metrics["eval_loss"]
        summary["eval_perplexity"] = math.exp(min(eval_metrics["eval_loss"], 50))
        if "eval_mean_token_accuracy" in eval_metrics:
            summary["eval_mean_token_accuracy"] = eval_metrics["eval_mean_token_accuracy"]
    return summary


def checkpointing_summary(trainer) -> str:
    policy = trainer.checkpointing
    if policy is None:
        return "every layer" if trainer.args.activation_checkpointing else "off"
    totals = trainer.final_totals or trainer.run_totals()  # the whole run's, across resumes
    return f"per batch: {totals.batches_checkpointed} of {totals.batches} batches checkpointed"


def main(argv: list[str]) -> int:
    import argparse

    from sft_recipes.train.launch import add_launch_options, launch, launch_options

    parser = argparse.ArgumentParser(
        prog="sft-recipes train",
        description="Fine-tune with a recipe. Any recipe key can be overridden: --key value.",
    )
    parser.add_argument("--config", help="recipe YAML (default: all defaults = the quickstart setup)")
    parser.add_argument("--accelerate_config", metavar="NAME",
                        help="run under accelerate launch: single_gpu, multi_gpu, zero2, zero3, fsdp2, multi_cpu, "
                             "or a path to an accelerate config YAML")
    add_launch_options(parser)
    args, overrides = parser.parse_known_args(argv)
    if args.accelerate_config:
        return launch(args.accelerate_config, launch_options(args),
                      [*(["--config", args.config] if args.config else []), *overrides])
    if launch_options(args):
        raise SFTRecipesError(f"--{next(iter(launch_options(args)))} goes with --accelerate_config NAME "
                              "(or sft-recipes launch NAME)")
    recipe = load_recipe(args.config, overrides)
    result = train(recipe)
    if result.summary:
        print(json.dumps({k: result.summary[k] for k in ("global_step", "train_loss", "train_seconds")}))
    return 0
