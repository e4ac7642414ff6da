"""Shared fixtures: the real SmolLM2 tokenizer and a tiny random model built on it (no network)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("WANDB_DISABLED", "true")

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def embedded_dir() -> Path:
    """The dense embedded checkpoint (converted once per cache; ~15 s the first time)."""
    from sft_recipes.inference.models import EMBEDDED, resolve_model

    return Path(resolve_model(EMBEDDED).path)


@pytest.fixture(scope="session")
def smol_tokenizer(embedded_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(embedded_dir)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, smol_tokenizer) -> Path:
    """A 2-layer random Llama with the real SmolLM2 tokenizer and chat template, saved as a local model dir."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(smol_tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        bos_token_id=smol_tokenizer.bos_token_id,
        eos_token_id=smol_tokenizer.eos_token_id,
        pad_token_id=smol_tokenizer.pad_token_id,
    )
    model = LlamaForCausalLM(config)
    out = tmp_path_factory.mktemp("tiny-smollm2")
    model.save_pretrained(out)
    smol_tokenizer.save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def lively_model(tiny_model_dir, smol_tokenizer):
    """(model, tokenizer): the tiny architecture with larger random weights. Its greedy answers and losses depend
    on the prompt (the default initialisation answers every long prompt with the same token), so a wrong cache or
    position shows in the tokens."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.from_pretrained(tiny_model_dir)
    config.initializer_range = 0.2
    torch.manual_seed(0)
    return AutoModelForCausalLM.from_config(config).eval(), smol_tokenizer


@pytest.fixture(scope="session")
def children():
    """Forked ``sft-recipes`` runs that a test can SIGKILL by PID (tests/run_children.py); one fork server for all."""
    from run_children import Children

    runner = Children()
    yield runner
    runner.close()
