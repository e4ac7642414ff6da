"""Activation checkpointing decided per batch (sft_recipes/train/checkpointing_policy.py): the memory estimate bounds what
autograd really keeps, a batch that fits trains without recomputation, one that does not checkpoints the fewest
layers, the math is unchanged either way, and a recipe that sets checkpointing keeps it."""

from __future__ import annotations

import pytest
import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM, LlamaConfig

from test_train import alpaca_file, tiny_recipe  # noqa: F401  (module fixture; tests/ is on sys.path)

from sft_recipes.train.checkpointing_policy import (
    ActivationEstimate,
    AdaptiveCheckpointing,
    every_n_layers,
    largest_batch_tokens,
)


def _model(lora_dropout: float | None = 0.0, layers: int = 4):
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=101, hidden_size=64, intermediate_size=160, num_hidden_layers=layers,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512)
    model = AutoModelForCausalLM.from_config(config, attn_implementation="sdpa", dtype=torch.float32)
    if lora_dropout is None:
        return model.train()
    return get_peft_model(model, LoraConfig(r=8, lora_dropout=lora_dropout, target_modules="all-linear")).train()


def _batch(rows: int = 3, length: int = 40):
    ids = torch.randint(1, 101, (rows, length), generator=torch.Generator().manual_seed(2))
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": ids.clone()}


def _saved_activation_bytes(model, batch) -> int:
    """Bytes of the tensors autograd keeps for the backward pass (parameters excluded, shared storage once)."""
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    storages: dict[int, int] = {}

    def pack(t):
        storage = t.untyped_storage()
        if storage.data_ptr() not in params:
            storages[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(**{k: v for k, v in batch.items() if k != "labels"}, use_cache=False, logits_to_keep=1)
    return sum(storages.values())


@pytest.mark.parametrize("dropout", [None, 0.0, 0.1], ids=["full", "lora", "lora-dropout"])
def test_the_estimate_bounds_what_autograd_keeps(dropout):
    model = _model(dropout)
    base = model.get_base_model() if dropout is not None else model
    batch = _batch()
    tokens = batch["input_ids"].numel()
    measured = _saved_activation_bytes(model, batch)
    estimate = ActivationEstimate.from_model(base, lora_r=8 if dropout is not None else 0,
                                             lora_dropout=dropout or 0.0, scores_on_cpu=False)
    predicted = estimate.batch_bytes(tokens, 0, 0)
    assert measured <= predicted <= 1.5 * measured, (measured, predicted)


def test_checkpointing_every_other_layer_keeps_what_the_estimate_says():
    model = _model(0.0)
    base = model.get_base_model()
    batch = _batch()
    tokens = batch["input_ids"].numel()
    estimate = ActivationEstimate.from_model(base, lora_r=8, scores_on_cpu=False)
    plain = _saved_activation_bytes(model, batch)
    base.activation_checkpointing_enable(every_n_layers=2)
    half = _saved_activation_bytes(model, batch)
    base.activation_checkpointing_disable()
    # two of four layers keep only their input: their activations are not saved in the forward pass
    assert half < 0.7 * plain
    assert half <= estimate.batch_bytes(tokens, 0, 2) - tokens * estimate.layer_bytes  # without the recompute peak


def test_fewest_layers_for_the_budget():
    estimate = ActivationEstimate(n_layers=30, layer_bytes=48_000, checkpointed_bytes=2_300, head_bytes=0)
    tokens = 7_000
    assert estimate.layers_to_checkpoint(tokens, 0, budget=11 * 2**30) == 0  # 10.1 GB fits
    k = estimate.layers_to_checkpoint(tokens, 0, budget=6 * 2**30)
    assert 0 < k < 30
    assert estimate.batch_bytes(tokens, 0, k) <= 6 * 2**30 < estimate.batch_bytes(tokens, 0, k - 1)
    assert estimate.layers_to_checkpoint(tokens, 0, budget=1) == 30  # nothing fits: checkpoint everything
    for k in range(1, 31):
        m = every_n_layers(k, 30)
        assert len(range(0, 30, m)) >= k  # transformers checkpoints layers 0, m, 2m, ...
    assert every_n_layers(0, 30) is None


def test_largest_batch_from_the_rows_not_from_max_length():
    short = list(range(42, 105))  # the 42-104-token rows that ran 61.0 s/step checkpointed, 34.3 s without
    assert largest_batch_tokens(short, 8, padding_free=False, packing=False, max_length=1024) == 8 * 104
    assert largest_batch_tokens(short, 8, padding_free=True, packing=False, max_length=None) == sum(range(97, 105))
    assert largest_batch_tokens(short, 8, padding_free=True, packing=True, max_length=1024) == 8 * 1024
    assert largest_batch_tokens([5, 7], 8, padding_free=False, packing=False, max_length=64) == 2 * 7
    # what the row set needs: far below any machine's memory, so no recomputation
    smollm2 = ActivationEstimate(n_layers=30, layer_bytes=48_064, checkpointed_bytes=2_304, head_bytes=786_432)
    assert smollm2.layers_to_checkpoint(8 * 104, 8 * 104, budget=2 * 2**30) == 0


def test_each_batch_decides_and_the_math_is_unchanged():
    model = _model(0.0)
    base = model.get_base_model()
    estimate = ActivationEstimate.from_model(base, lora_r=8, scores_on_cpu=False)
    small, large = _batch(rows=1, length=8), _batch(rows=3, length=40)
    budget = estimate.batch_bytes(8, 0, 0) + 1  # the small batch fits, the large one does not
    policy = AdaptiveCheckpointing(estimate, budget)

    def step(batch):
        policy.before_step(base, batch)
        flags = [layer.gradient_checkpointing for layer in base.model.layers]
        model.zero_grad()
        loss = model(**batch, use_cache=False).loss
        loss.backward()
        return flags, loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}

    flags, *_ = step(small)
    assert flags == [False] * 4 and policy.current is None
    for name, p in model.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(p, std=0.05)  # non-zero adapters: every LoRA weight gets a gradient
    flags, loss, grads = step(large)
    assert any(flags) and policy.current is not None
    base.activation_checkpointing_disable()
    policy.current = None
    model.zero_grad()
    reference = model(**large, use_cache=False).loss
    reference.backward()
    torch.testing.assert_close(loss, reference.detach())
    for name, grad in grads.items():
        torch.testing.assert_close(grad, dict(model.named_parameters())[name].grad, msg=name)
    flags, *_ = step(small)
    assert flags == [False] * 4 and (policy.steps, policy.steps_checkpointed) == (4 - 1, 1)


def test_a_recipe_without_the_setting_decides_per_batch(tiny_model_dir, alpaca_file, tmp_path, capsys):  # noqa: F811
    from sft_recipes.prepare import ensure_prepared
    from sft_recipes.train import build_trainer

    recipe = tiny_recipe(tiny_model_dir, alpaca_file, tmp_path / "auto", "--max_steps", "1")
    trainer = build_trainer(recipe, ensure_prepared(recipe))
    assert isinstance(trainer.checkpointing, AdaptiveCheckpointing)
    assert trainer.args.activation_checkpointing is False  # not the Trainer's all-layers switch
    assert "activation checkpointing per batch: never needed" in capsys.readouterr().out
    trainer.train()
    assert trainer.checkpointing.steps == 1 and trainer.checkpointing.steps_checkpointed == 0

    forced = tiny_recipe(tiny_model_dir, alpaca_file, tmp_path / "set", "--max_steps", "1",
                         "--activation_checkpointing", "true")
    trainer = build_trainer(forced, ensure_prepared(forced))
    assert trainer.checkpointing is None and trainer.args.activation_checkpointing is True
