"""What the GPU benchmark trains on, with nothing downloaded: published model shapes, random weights, a word-level
tokenizer built on the spot, and synthetic rows with the length mix of real SFT data.

Model shapes are the published ``config.json`` files of SmolLM2-135M, Qwen2.5-1.5B and Llama-3.1-8B, kept in
``benchmarks/gpu_models/``. Speed and memory depend on the shapes, not on the weights' values, so random weights
measure what the real models would.

Rows: token lengths follow a log-normal with a 450-token median and a long tail (sigma 0.9: about 1 row in 8 above
1,400 tokens), clipped to [24, max_length], like chat SFT mixtures where most turns are short and some are long
documents or code; the first 20-60% of each row is prompt (label -100), the rest is trained.
"""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Any

MODELS_DIR = Path(__file__).resolve().parent / "gpu_models"
MODEL_NAMES = ("smollm2-135m", "qwen2.5-1.5b", "llama-3.1-8b")
MEDIAN_TOKENS, SIGMA, MIN_TOKENS = 450, 0.9, 24
SPECIAL_TOKENS = ("<pad>", "<eos>", "<unk>")


def model_config(name: str, tiny: bool = False):
    """The transformers config of a published shape (``tiny``: the same family, 2 small layers, for CPU tests)."""
    from transformers import AutoConfig

    values = json.loads((MODELS_DIR / f"{name}.json").read_text())
    values.pop("_source", None)
    if tiny:
        heads, kv = (4, 2)
        values.update(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=heads,
                      num_key_value_heads=kv, head_dim=16, vocab_size=512, max_window_layers=2)
    return AutoConfig.for_model(**values)


def build_on_meta(name: str):
    """The model of a published shape on the meta device: every parameter, no memory."""
    import torch
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        return AutoModelForCausalLM.from_config(model_config(name), dtype=torch.bfloat16)


def write_model(name: str, out: Path, tiny: bool = False) -> float:
    """Random bf16 weights of the published shape (made on the GPU when there is one) and a word-level tokenizer,
    saved once into ``out``; returns the seconds taken."""
    import time

    import torch
    from transformers import AutoModelForCausalLM

    if (out / "config.json").is_file():
        return 0.0
    start = time.perf_counter()
    config = model_config(name, tiny)
    torch.manual_seed(0)
    with torch.device("cuda" if torch.cuda.is_available() else "cpu"):
        model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    model.save_pretrained(out)
    word_tokenizer(config.vocab_size).save_pretrained(out)
    return time.perf_counter() - start


def word_tokenizer(vocab_size: int):
    """A word-level tokenizer over ``vocab_size`` ids (``<pad>``, ``<eos>``, ``<unk>``, then ``t3``, ``t4``, ...)."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {tok: i for i, tok in enumerate(SPECIAL_TOKENS)}
    vocab.update({f"t{i}": i for i in range(len(SPECIAL_TOKENS), vocab_size)})
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="<pad>", eos_token="<eos>",
                                   unk_token="<unk>")


def row_lengths(n: int, max_length: int, seed: int) -> list[int]:
    rng = random.Random(seed)
    return [min(max_length, max(MIN_TOKENS, int(rng.lognormvariate(math.log(MEDIAN_TOKENS), SIGMA))))
            for _ in range(n)]


def synthetic_rows(n: int, vocab_size: int, max_length: int, seed: int = 0) -> list[dict[str, Any]]:
    """``n`` pre-tokenized rows ``{"input_ids", "labels"}``: random ids, a prompt part without labels."""
    rng = random.Random(seed + 1)
    rows = []
    for length in row_lengths(n, max_length, seed):
        ids = [rng.randrange(len(SPECIAL_TOKENS), vocab_size) for _ in range(length - 1)] + [1]  # ends with <eos>
        prompt = int(length * rng.uniform(0.2, 0.6))
        rows.append({"input_ids": ids, "labels": [-100] * prompt + ids[prompt:]})
    return rows


def profile(lengths: list[int]) -> dict[str, float]:
    ordered = sorted(lengths)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {"rows": len(ordered), "mean": round(sum(ordered) / len(ordered), 1), "median": pick(0.5),
            "p90": pick(0.9), "max": ordered[-1]}
