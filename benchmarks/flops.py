"""FLOPs of a LoRA training step, counted honestly, and the machine's own fp32 matmul rate to compare them with.

Counted per training step from what the model processed (measure.BatchStats), for a Llama-style decoder:

    forward
      frozen linears   2 * P_linear * T            P_linear: q, k, v, o, gate, up, down weights of every layer
      LoRA             2 * r * sum(in + out) * T   the A (in x r) and B (r x out) of every adapted linear
      attention        4 * n_layers * d_attn * C   QK^T and AV; C = sum over sequences of L*(L+1)/2 causal pairs
      LM head          2 * d_model * V * Y         Y = positions the head scores: sft-recipes' trainer asks for
                                                   logits at labelled positions only (TRL's tiled head does the
                                                   same on Triton devices), so Y = trained tokens
    backward
      frozen linears   1x forward                  activation gradients only: no weight gradients for frozen weights
      LoRA             2x forward                  activation and weight gradients
      attention        2x forward                  dQ, dK, dV
      LM head          1x forward                  tied to the frozen embedding: activation gradient only

    total = 2 * frozen + 3 * LoRA + 3 * attention + 2 * LM head      (not the 6 * N * T of full fine-tuning)

T counts non-pad tokens only, so padding is never credited as work. Norms, activations, softmax, the embedding
lookup and the optimizer are left out (a few % at most). The rate to compare with is a plain fp32 GEMM of the shape
that dominates the model ([T_step x d_model] @ [d_model x d_ff]) timed on the same machine in the same run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

FORMULA = (
    "total = 2*F + 3*A + 3*S + 2*H; forward F = 2*P_linear*T (frozen q,k,v,o,gate,up,down), "
    "A = 2*r*sum(in+out)*T (LoRA), S = 4*n_layers*d_attn*sum_seq L(L+1)/2 (causal QK^T and AV), "
    "H = 2*d_model*V*Y (the LM head scores labelled positions only: Y = trained tokens); backward: frozen 1x forward (activation "
    "grads only), LoRA 2x, attention 2x, LM head 1x (tied, frozen); T = non-pad tokens"
)


@dataclass(frozen=True)
class Shapes:
    n_layers: int
    d_model: int
    d_attn: int  # n_heads * head_dim
    d_kv: int  # n_kv_heads * head_dim
    d_ff: int
    vocab: int

    @classmethod
    def from_config(cls, config: Any) -> "Shapes":
        head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
        kv_heads = getattr(config, "num_key_value_heads", None) or config.num_attention_heads
        return cls(
            n_layers=config.num_hidden_layers,
            d_model=config.hidden_size,
            d_attn=config.num_attention_heads * head_dim,
            d_kv=kv_heads * head_dim,
            d_ff=config.intermediate_size,
            vocab=config.vocab_size,
        )

    def linears(self) -> list[tuple[int, int]]:
        """(in, out) of every linear of one decoder layer: q, k, v, o, gate, up, down."""
        d, a, kv, f = self.d_model, self.d_attn, self.d_kv, self.d_ff
        return [(d, a), (d, kv), (d, kv), (a, d), (d, f), (d, f), (f, d)]

    @property
    def linear_params(self) -> int:
        return self.n_layers * sum(i * o for i, o in self.linears())

    def lora_params(self, r: int) -> int:
        return self.n_layers * sum(r * (i + o) for i, o in self.linears())


def lora_step_flops(shapes: Shapes, r: int, tokens: int, causal_pairs: int, labelled: int) -> dict[str, float]:
    """FLOPs of forward + backward over ``tokens`` non-pad tokens (see the module docstring)."""
    frozen = 2.0 * shapes.linear_params * tokens
    lora = 2.0 * shapes.lora_params(r) * tokens
    attention = 4.0 * shapes.n_layers * shapes.d_attn * causal_pairs
    head = 2.0 * shapes.d_model * shapes.vocab * labelled
    return {
        "forward": frozen + lora + attention + head,
        "total": 2 * frozen + 3 * lora + 3 * attention + 2 * head,
        "frozen_linear": 2 * frozen,
        "lora": 3 * lora,
        "attention": 3 * attention,
        "lm_head": 2 * head,
    }


def matmul_rate(m: int, k: int, n: int, seconds: float = 3.0, repeats: int = 5) -> dict[str, float]:
    """Best and median fp32 GEMM rate (FLOP/s) of [m x k] @ [k x n] over ``repeats`` timed windows."""
    import torch

    a, b = torch.randn(m, k), torch.randn(k, n)
    for _ in range(3):
        a @ b
    flop = 2.0 * m * k * n
    rates = []
    for _ in range(repeats):
        count, start = 0, time.perf_counter()
        while True:
            a @ b
            count += 1
            elapsed = time.perf_counter() - start
            if elapsed >= seconds / repeats:
                break
        rates.append(flop * count / elapsed)
    rates.sort()
    return {"best": rates[-1], "median": rates[len(rates) // 2], "shape": [m, k, n],
            "threads": torch.get_num_threads()}


GPU_CONVENTION = (
    "per token: forward 2 FLOPs per weight; backward 2 per frozen weight (activation gradient only) and 4 per trained "
    "weight (activation + weight gradients), so LoRA A/B cost 6 per weight and a full fine-tune 6 per weight; "
    "attention 4*d_attn per causal query-key pair per layer forward and twice that backward; the LM head scores the "
    "labelled positions only (TRL's fused head on CUDA); embedding lookups, norms, activations and the optimizer "
    "count 0. The 4N figure (4 FLOPs per parameter per token, NeMo's convention for LoRA) is shown beside it"
)


def training_flops(shapes: Shapes, method: str, r: int, tokens: int, causal_pairs: int,
                   scored: int) -> dict[str, float]:
    """FLOPs of forward + backward under GPU_CONVENTION; ``method``: lora, qlora or full."""
    trained = method == "full"
    linear = shapes.linear_params
    head = shapes.d_model * shapes.vocab
    per_weight = 6.0 if trained else 4.0
    out = {
        "linear": per_weight * linear * tokens,
        "lora": 0.0 if trained else 6.0 * shapes.lora_params(r) * tokens,
        "attention": 3 * 4.0 * shapes.n_layers * shapes.d_attn * causal_pairs,
        "lm_head": per_weight * head * scored,
    }
    out["total"] = sum(out.values())
    return out


def parameter_count(shapes: Shapes, tied: bool) -> int:
    """All weights (norms aside): decoder linears, embeddings, and the LM head unless tied to them."""
    head = shapes.d_model * shapes.vocab
    return shapes.linear_params + head * (1 if tied else 2)
