"""Activation checkpointing decided from the tokens each batch really holds and a memory estimate.

Recomputing activations in the backward pass costs about a third more compute (measured on a 2-core CPU: a batch of
42-104-token rows with max_length 1024 ran 61.0 s/step checkpointed against 34.3 s without); it only pays when a
batch's activations would not fit. So when a recipe sets neither ``activation_checkpointing`` nor
``gradient_checkpointing``, every training batch is sized before its forward pass:

    bytes = T * (n_plain * A + n_ckpt * C + [n_ckpt > 0] * A) + head(Y)
    A     = bytes autograd keeps per token in one decoder layer (ActivationEstimate: q, k, v, attention output,
            norms, the SwiGLU MLP, LoRA's rank-r products and dropout copies; checked against the tensors autograd
            really saves in tests/test_checkpointing_policy.py)
    C     = the layer input a checkpointed layer keeps (d_model values); one layer is rebuilt at a time
    T     = positions the batch processes (padding included); Y = positions the CPU loss scores (labelled ones)

and the fewest decoder layers are checkpointed (transformers' ``every_n_layers``) that bring it under the budget: the
memory free when training starts (RAM on a CPU, ``torch.cuda.mem_get_info`` on a GPU), shared among the processes of
the machine, less the gradients and optimizer state of the trainable weights, times ``SAFETY``. Most batches of
instruction data need none; the longest batch of a long tail may need some.

The run prints what its largest possible batch needs (padded: batch size x longest row; padding-free: the longest
rows together; packed: batch size x max_length). Under FSDP or DeepSpeed, which wrap the layers once, TRL's default
(every layer checkpointed) stays.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from sft_recipes.chat.masking import IGNORE_INDEX

SAFETY = 0.8  # share of the free memory activations may use
ADAM_BYTES_PER_PARAM = 12  # fp32 gradient + two moments


@dataclass(frozen=True)
class ActivationEstimate:
    """Bytes autograd keeps per token for a Llama-style decoder (and the CPU loss's LM head)."""

    n_layers: int
    layer_bytes: int  # per token, one decoder layer, not checkpointed
    checkpointed_bytes: int  # per token, one checkpointed layer (its input)
    head_bytes: int  # per scored token: logits, log-softmax and their gradient (CPU loss path)

    @classmethod
    def from_model(cls, model, lora_r: int = 0, lora_dropout: float = 0.0, eager_length: int = 0,
                   dtype_bytes: int | None = None, scores_on_cpu: bool = True) -> "ActivationEstimate":
        config = model.config.get_text_config()
        h = config.hidden_size
        head_dim = getattr(config, "head_dim", None) or h // config.num_attention_heads
        d_attn = config.num_attention_heads * head_dim
        d_kv = (getattr(config, "num_key_value_heads", None) or config.num_attention_heads) * head_dim
        ff = config.intermediate_size
        if dtype_bytes is None:
            dtype_bytes = next(p for p in model.parameters() if p.is_floating_point()).element_size()
        # norms 2h + their output h, q k v + rotated q k, attention output and its o_proj copy, gate, up, SiLU, product
        values = 5 * h + 4 * d_attn + 3 * d_kv + 4 * ff
        adapted_inputs = 5 * h + d_attn + ff  # q, k, v, gate, up read h; o_proj d_attn; down ff
        values += 7 * lora_r
        extra = int(adapted_inputs * (dtype_bytes + 1)) if lora_dropout > 0 else 0  # dropout copy + its mask
        if eager_length:
            values += 2 * config.num_attention_heads * eager_length  # eager attention keeps probabilities
        head = 4 * config.vocab_size * 4 if scores_on_cpu else 0  # fp32 logits, log-softmax, grads, metrics
        return cls(config.num_hidden_layers, values * dtype_bytes + extra, h * dtype_bytes, head)

    def batch_bytes(self, tokens: int, scored: int, checkpointed: int) -> int:
        plain = self.n_layers - checkpointed
        per_token = plain * self.layer_bytes + checkpointed * self.checkpointed_bytes
        if checkpointed:
            per_token += self.layer_bytes  # the layer being recomputed
        return tokens * per_token + scored * self.head_bytes

    def layers_to_checkpoint(self, tokens: int, scored: int, budget: int) -> int:
        """The fewest checkpointed layers that fit ``budget`` (all of them when nothing fits)."""
        for k in range(self.n_layers + 1):
            if self.batch_bytes(tokens, scored, k) <= budget:
                return k
        return self.n_layers


def every_n_layers(checkpointed: int, n_layers: int) -> int | None:
    """transformers' ``every_n_layers`` that checkpoints at least ``checkpointed`` of ``n_layers`` (None: none)."""
    return None if checkpointed <= 0 else max(1, n_layers // checkpointed)


def largest_batch_tokens(lengths: list[int], batch_size: int, padding_free: bool, packing: bool,
                         max_length: int | None) -> int:
    """The most positions one batch of this data can hold."""
    if not lengths:
        return 0
    k = min(batch_size, len(lengths))
    if packing and max_length:
        return batch_size * max_length
    if padding_free:
        return sum(sorted(lengths, reverse=True)[:k])
    return k * max(lengths)


def free_memory_bytes(on_cpu: bool, device_index: int = 0) -> int:
    if not on_cpu:
        import torch

        return int(torch.cuda.mem_get_info(device_index)[0])
    import psutil

    return int(psutil.virtual_memory().available)


def memory_budget(free_bytes: int, processes_here: int, trainable_params: int) -> int:
    share = free_bytes / max(1, processes_here)
    return int(SAFETY * share - ADAM_BYTES_PER_PARAM * trainable_params)


def _gb(n: float) -> str:
    return f"{n / 2**30:.1f} GB"


class AdaptiveCheckpointing:
    """Before each training batch: checkpoint the fewest layers that make its activations fit the budget."""

    def __init__(self, estimate: ActivationEstimate, budget: int, kwargs: dict | None = None):
        self.estimate, self.budget, self.kwargs = estimate, budget, dict(kwargs or {})
        self.kwargs.pop("every_n_layers", None)
        self.current: int | None = None  # every_n_layers in force (None: off)
        self.steps_checkpointed = 0
        self.steps = 0

    def plan(self, inputs: dict) -> int | None:
        tokens = int(inputs["input_ids"].numel())
        labels = inputs.get("labels")
        scored = int((labels != IGNORE_INDEX).sum()) if labels is not None else tokens
        k = self.estimate.layers_to_checkpoint(tokens, scored, self.budget)
        return every_n_layers(k, self.estimate.n_layers)

    def before_step(self, model, inputs: dict) -> None:
        wanted = self.plan(inputs)
        self.steps += 1
        self.steps_checkpointed += wanted is not None
        if wanted == self.current:
            return
        if wanted is None:
            model.activation_checkpointing_disable()
        else:
            model.activation_checkpointing_enable(activation_checkpointing_kwargs=self.kwargs or None,
                                                  every_n_layers=wanted)
        self.current = wanted


def sharded_training(args: Any) -> bool:
    """FSDP or DeepSpeed, from the training arguments or an ``accelerate launch`` config."""
    env = os.environ
    return bool(getattr(args, "fsdp", None) or getattr(args, "deepspeed", None)
                or env.get("ACCELERATE_USE_FSDP", "").lower() in ("1", "true")
                or env.get("ACCELERATE_USE_DEEPSPEED", "").lower() in ("1", "true"))


def processes_on_this_machine() -> int:
    return int(os.environ.get("LOCAL_WORLD_SIZE", "1") or 1)


def plan_for_run(model, lengths: list[int], args: Any, lora_r: int, lora_dropout: float, on_cpu: bool,
                 padding_free: bool, trainable_params: int) -> tuple[AdaptiveCheckpointing, str]:
    """The per-batch policy for a run (``model``: the one being trained), and one line saying what the largest
    batch needs."""
    eager = 0
    if model.config._attn_implementation == "eager":
        eager = max(lengths) if lengths else 0
    estimate = ActivationEstimate.from_model(model, lora_r, lora_dropout, eager_length=eager, scores_on_cpu=on_cpu)
    device = 0 if on_cpu else next(model.parameters()).device.index or 0
    free = free_memory_bytes(on_cpu, device)
    budget = memory_budget(free, processes_on_this_machine(), trainable_params)
    policy = AdaptiveCheckpointing(estimate, budget, args.activation_checkpointing_kwargs)
    tokens = largest_batch_tokens(lengths, args.per_device_train_batch_size, padding_free, bool(args.packing),
                                  args.max_length)
    k = estimate.layers_to_checkpoint(tokens, tokens, budget)
    need = estimate.batch_bytes(tokens, tokens, 0)
    what = "never needed" if k == 0 else (f"{k} of {estimate.n_layers} layers for the largest batches"
                                          if k < estimate.n_layers else "every layer for the largest batches")
    line = (f"activation checkpointing per batch: {what} (largest batch {tokens:,} tokens ~ {_gb(need)} of "
            f"activations without it; budget {_gb(max(budget, 0))} of {_gb(free)} free)")
    return policy, line
