"""sft-recipes' GPU defaults (sft_recipes/recipe/gpu_defaults.py) fill only what a recipe leaves unset, only on CUDA."""

from __future__ import annotations

import pytest
import torch

from sft_recipes.recipe import gpu_defaults
from sft_recipes.train import attention_choice
from sft_recipes.recipe.gpu_defaults import apply_gpu_defaults


@pytest.fixture
def cuda_with(monkeypatch):
    def setup(flash: bool, liger: bool):
        monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
        monkeypatch.setattr(attention_choice, "flash_attention_installed", lambda: flash)
        monkeypatch.setattr(gpu_defaults, "liger_installed", lambda: liger)
    return setup


def test_padding_free_liger_and_bf16_base_for_lora(cuda_with):
    cuda_with(flash=True, liger=True)
    model, training = {"use_peft": True}, {"bf16": True}
    assert apply_gpu_defaults(model, training) == {"padding_free": True, "use_liger_kernel": True,
                                                   "dtype": "bfloat16"}
    assert training == {"bf16": True, "padding_free": True, "use_liger_kernel": True}
    assert model["dtype"] == "bfloat16"
    # full fine-tuning keeps fp32 master weights; packing asked for stays packing
    model, training = {"use_peft": False}, {"bf16": True, "packing": True}
    apply_gpu_defaults(model, training)
    assert "dtype" not in model and "padding_free" not in training and training["use_liger_kernel"] is True


def test_without_flash_attention_or_liger_batches_stay_padded(cuda_with):
    cuda_with(flash=False, liger=False)
    training = {"bf16": True}
    assert apply_gpu_defaults({"use_peft": True, "dtype": "float32"}, training) == {}
    assert training == {"bf16": True}


def test_a_recipe_choice_is_kept_and_cpus_get_nothing(cuda_with, monkeypatch):
    cuda_with(flash=True, liger=True)
    training = {"bf16": True, "padding_free": False, "use_liger_kernel": False}
    apply_gpu_defaults({"use_peft": True}, training)
    assert training["padding_free"] is False and training["use_liger_kernel"] is False
    assert apply_gpu_defaults({"use_peft": True}, {"use_cpu": True}) == {}
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert apply_gpu_defaults({"use_peft": True}, {}) == {}
