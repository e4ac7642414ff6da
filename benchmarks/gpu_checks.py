"""Correctness on the GPU, on the SmolLM2-135M shape (random weights), through sft-recipes' own paths:

    packed_vs_padded  the same rows as one padding-free row (the attention sft-recipes picks for it: flash attention
                      2 when installed) and padded (sdpa), bf16: the losses agree within PACKED_TOLERANCE
    qlora_trains      a 4-bit NF4 base (bitsandbytes) loads through ``build_trainer``, its LoRA trains: the loss on a
                      small repeated set falls, the adapters move, and the adapter saves
    merge_bf16        that QLoRA adapter merged by ``sft_recipes.export.merge`` into the bf16 base (never the 4-bit
                      one): no LoRA or 4-bit layers left, bf16 weights, logits close to adapter-on-base
"""

from __future__ import annotations

from typing import Any

PACKED_TOLERANCE = 1e-2  # relative, bf16
MERGE_TOLERANCE = 2e-2  # largest logit difference relative to the largest logit, bf16
PROBE_TEMPLATE = "{% for m in messages %}{{ m['content'] }} {% endfor %}"


def _device_and_dtype():
    import torch

    return ("cuda", torch.bfloat16) if torch.cuda.is_available() else ("cpu", torch.float32)


def packed_vs_padded(job) -> dict[str, Any]:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    from benchmarks.gpu_data import synthetic_rows
    from sft_recipes.train.attention_choice import flash_attention_installed
    from sft_recipes.train.varlen_attention import register

    device, dtype = _device_and_dtype()
    packed_attention = ("flash_attention_2" if device == "cuda" and flash_attention_installed()
                        else "sdpa" if device == "cuda" else register())
    vocab = AutoConfig.from_pretrained(job.model_dir).vocab_size
    rows = synthetic_rows(8, vocab, 768, seed=11)
    losses = {}
    for name, attention, padding_free in (("padded", "sdpa", False), ("packed", packed_attention, True)):
        model = AutoModelForCausalLM.from_pretrained(job.model_dir, dtype=dtype, attn_implementation=attention)
        batch = DataCollatorForLanguageModeling(pad_token_id=0, padding_free=padding_free)(rows)
        batch = {k: v.to(device) for k, v in batch.items() if hasattr(v, "to")}
        with torch.no_grad():
            losses[name] = float(model.to(device)(**batch, use_cache=False).loss)
        del model
    rel = abs(losses["packed"] - losses["padded"]) / abs(losses["padded"])
    return {"passed": rel <= PACKED_TOLERANCE, "padded_loss": losses["padded"], "packed_loss": losses["packed"],
            "relative_difference": rel, "tolerance": PACKED_TOLERANCE, "packed_attention": packed_attention}


def qlora_trains(job) -> dict[str, Any]:
    import torch

    from benchmarks.gpu_data import synthetic_rows
    from benchmarks.gpu_runs import prepared_rows, sft_recipes_recipe
    from sft_recipes.train import build_trainer

    from datasets import Dataset

    q = type(job)(**{**job.__dict__, "method": "qlora", "seq": 256, "rows_per_step": 4, "warmup": 0, "steps": 12,
                     "learning_rate": 2e-3})
    tokenizer = prepared_rows(q, rows=[]).tokenizer
    rows = synthetic_rows(4, len(tokenizer), 96, seed=5) * 4  # a small set seen again and again: the loss must fall
    trainer = build_trainer(sft_recipes_recipe(q, logging_steps=1), prepared_rows(q, Dataset.from_list(rows)))
    four_bit = sum(type(m).__name__ == "Linear4bit" for m in trainer.model.modules())
    before = {n: p.detach().float().clone() for n, p in trainer.model.named_parameters() if p.requires_grad}
    trainer.train()
    moved = sum(not torch.equal(before[n], p.detach().float()) for n, p in trainer.model.named_parameters()
                if p.requires_grad)
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    trainer.save_model(q.output_dir)
    passed = four_bit > 0 and moved == len(before) and losses[-1] < losses[0] and all(map(_finite, losses))
    return {"passed": passed, "linear4bit_layers": four_bit, "adapters_moved": f"{moved} of {len(before)}",
            "first_loss": losses[0], "last_loss": losses[-1], "adapter_dir": q.output_dir}


def merge_bf16(job, adapter_dir: str) -> dict[str, Any]:
    import torch
    from transformers import AutoTokenizer

    from sft_recipes.export.merge import merge_adapter

    tokenizer = AutoTokenizer.from_pretrained(job.model_dir)
    tokenizer.chat_template = PROBE_TEMPLATE  # the merge check renders a probe conversation
    dtype = "bfloat16" if torch.cuda.is_available() else "float32"
    result = merge_adapter(job.model_dir, adapter_dir, tokenizer, dtype=dtype)
    names = {type(m).__name__ for m in result.model.modules()}
    dtypes = {str(p.dtype) for p in result.model.parameters()}
    ids = torch.tensor([[5, 6, 7, 8, 9]])
    with torch.no_grad():
        scale = float(result.model(input_ids=ids).logits.abs().max())
    rel = result.max_abs_logit_diff / max(scale, 1e-6)
    clean = not any("lora" in n.lower() or n == "Linear4bit" for n in names)
    return {"passed": clean and dtypes == {f"torch.{dtype}"} and rel <= MERGE_TOLERANCE, "dtype": dtype,
            "weights": sorted(dtypes), "lora_or_4bit_layers_left": not clean,
            "max_logit_difference": result.max_abs_logit_diff, "relative": rel, "tolerance": MERGE_TOLERANCE}


def _finite(x: float) -> bool:
    return x == x and abs(x) != float("inf")


def run_checks(job) -> dict[str, Any]:
    out: dict[str, Any] = {"packed_vs_padded": _safely(packed_vs_padded, job)}
    qlora = _safely(qlora_trains, job)
    out["qlora_trains"] = qlora
    out["merge_bf16"] = (_safely(merge_bf16, job, qlora["adapter_dir"]) if qlora.get("adapter_dir")
                         else {"passed": False, "error": "no QLoRA adapter to merge"})
    out["passed"] = all(v.get("passed") for v in list(out.values()))
    return out


def _safely(fn, *args) -> dict[str, Any]:
    try:
        return fn(*args)
    except Exception as e:  # a failed check is reported with its reason; the other checks still run
        return {"passed": False, "error": f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e) else ''}"}
