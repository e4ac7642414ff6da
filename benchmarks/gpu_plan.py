"""``benchmarks/gpu.py --plan``: what a GPU run would do and roughly how long each part takes, on any machine.

Every model is built from its config on the meta device (all parameters, no memory), so the parameter counts, the
LoRA sizes, the FLOPs per token and the activation estimate below come from the real module tree. The times are an
estimate (assumed MFU per contender on an H100 SXM's 989 TFLOP/s, disk and process start-up), not a measurement.
"""

from __future__ import annotations

from typing import Any

H100_TFLOPS = 989.4


def model_facts(name: str, seq: int) -> dict[str, Any]:
    from benchmarks import gpu_data
    from benchmarks.flops import Shapes, parameter_count, training_flops
    from sft_recipes.train.checkpointing_policy import ActivationEstimate

    model = gpu_data.build_on_meta(name)
    config = model.config
    shapes = Shapes.from_config(config)
    params = sum(p.numel() for p in model.parameters())
    tied = bool(config.tie_word_embeddings)
    lengths = gpu_data.row_lengths(4000, seq, seed=0)
    pairs = sum(n * (n + 1) // 2 for n in lengths) / sum(lengths)  # causal pairs per token of the row mix
    per_token = {m: training_flops(shapes, m, 16, 1, pairs, 0.7)["total"] for m in ("lora", "full")}
    estimate = ActivationEstimate.from_model(model, lora_r=16, dtype_bytes=2, scores_on_cpu=False)
    return {"params": params, "counted_params": parameter_count(shapes, tied), "lora_params": shapes.lora_params(16),
            "layers": shapes.n_layers, "tied": tied, "flops_per_token": per_token,
            "activation_mb_per_token": estimate.batch_bytes(1, 0, 0) / 2**20,
            "row_mean": sum(lengths) / len(lengths), "class": type(model).__name__}


def estimated_seconds(p, facts: dict[str, Any]) -> float:
    from benchmarks.gpu import ASSUMED_MFU, DISK_GB_PER_S, PROCESS_START_S

    mfu = ASSUMED_MFU["qlora" if p.method == "qlora" else p.contender]
    flops = facts["flops_per_token"]["full" if p.method == "full" else "lora"]
    step = p.tokens_per_step * flops / (mfu * H100_TFLOPS * 1e12)
    load = facts["params"] * 2 / 1e9 / DISK_GB_PER_S
    return PROCESS_START_S + load + (p.warmup + p.steps) * step


def print_plan(plan, with_checks: bool) -> None:
    from benchmarks.gpu import CHECK_MODEL, CHECKS_S, DISK_GB_PER_S, TARGETS, mean_row_length
    from benchmarks.flops import GPU_CONVENTION

    seqs = {}
    for p in plan:
        seqs.setdefault(p.model, p.seq)
    if with_checks:
        seqs.setdefault(CHECK_MODEL, 768)
    facts = {m: model_facts(m, s) for m, s in seqs.items()}
    print("Models (published shapes, random weights; built on the meta device):\n")
    print("| model | class | parameters | LoRA r16 | layers | tied head | FLOPs/token LoRA | FLOPs/token full "
          "| activations MB/token (bf16, none recomputed) |")
    print("|---|---|---:|---:|---:|---|---:|---:|---:|")
    for m, f in facts.items():
        print(f"| {m} | {f['class']} | {f['params'] / 1e9:.3f}B | {f['lora_params'] / 1e6:.1f}M | {f['layers']} | "
              f"{f['tied']} | {f['flops_per_token']['lora'] / 1e9:.1f} G | {f['flops_per_token']['full'] / 1e9:.1f} G"
              f" | {f['activation_mb_per_token']:.2f} |")
    total = sum(f["params"] * 2 / 1e9 / DISK_GB_PER_S for f in facts.values())
    print(f"\nSetup: random bf16 weights written once per model (~{total:.0f} s at {DISK_GB_PER_S} GB/s).")
    if with_checks:
        print(f"Checks on {CHECK_MODEL} (~{CHECKS_S:.0f} s): bf16 packed vs padded loss; QLoRA 4-bit loads and "
              "trains; the QLoRA adapter merged into the bf16 base.")
    print("\n| run | max_length | rows/step | warmup + timed steps | estimated s |\n|---|---:|---:|---:|---:|")
    total += CHECKS_S if with_checks else 0.0
    for p in plan:
        rows = max(1, round(p.tokens_per_step / mean_row_length(p.seq)))
        seconds = estimated_seconds(p, facts[p.model])
        total += seconds
        packed = max(1, p.tokens_per_step // p.seq)
        shown = f"{packed} packed row{'s' if packed > 1 else ''}" if p.contender == "trl_best" else str(rows)
        print(f"| {p.name} | {p.seq} | {shown} | {p.warmup} + {p.steps} | {seconds:.0f} |")
    print(f"\nEstimated total: {total / 60:.1f} min on one H100/H200 (assumed MFU: trl_defaults 20%, trl_best 30%, "
          "sft_recipes 35%, QLoRA 15%).")
    print("Targets: " + "; ".join(f"{k} {v[0]} {v[1]} {v[2]:,}" for k, v in TARGETS.items()))
    print(f"\nFLOP convention: {GPU_CONVENTION}.")
