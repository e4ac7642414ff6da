"""The CPU loss that scores only labelled positions equals TRL's own fused-head loss: same value, same gradients,
same logged entropy and token accuracy, for LoRA and full fine-tuning, padded and padding-free batches, with and
without a gradient-accumulation token count. A right-padded batch is run without its padding mask (causal attention
alone gives the real tokens the same outputs), which the comparison with TRL's masked loss checks."""

from __future__ import annotations

import pytest
import torch
from trl import SFTTrainer

from sft_recipes.prepare import ensure_prepared
from sft_recipes.train import build_trainer
from sft_recipes.train.trainer import right_padded_only
# a sibling module, not "tests.test_train": eyecite's dependency fast-diff-match-patch installs a package named "tests"
from test_train import alpaca_file, tiny_recipe  # noqa: F401  (module fixture)


def _loss_grads_metrics(trainer, compute_loss, batch, num_items):
    trainer.model.zero_grad()
    trainer._metrics["train"].clear()
    trainer._total_train_tokens = 0  # a running count: both paths start from zero
    trainer.model.train()
    loss = compute_loss(trainer, trainer.model, dict(batch), num_items_in_batch=num_items)
    loss.backward()
    grads = {n: p.grad.clone() for n, p in trainer.model.named_parameters() if p.requires_grad and p.grad is not None}
    metrics = {k: list(v) for k, v in trainer._metrics["train"].items()}
    return loss.detach(), grads, metrics


@pytest.mark.parametrize("extra", [
    ["--use_peft", "--lora_r", "8", "--lora_dropout", "0"],
    [],
    ["--use_peft", "--lora_r", "8", "--lora_dropout", "0", "--padding_free", "true"],
], ids=["lora", "full", "lora-padding-free"])
@pytest.mark.parametrize("num_items", [None, 37])
def test_labelled_only_loss_equals_trl_fused_loss(tiny_model_dir, alpaca_file, tmp_path, extra,  # noqa: F811
                                                   num_items):
    recipe = tiny_recipe(tiny_model_dir, alpaca_file, tmp_path / "run", "--max_steps", "1", *extra)
    trainer = build_trainer(recipe, ensure_prepared(recipe))
    batch = next(iter(trainer.get_train_dataloader()))
    labels = batch["labels"]
    assert (labels == -100).any() and (labels != -100).any()  # prompt and answer tokens both present
    if "--padding_free" not in extra:
        mask = batch["attention_mask"]
        assert right_padded_only(mask) and not mask.all()  # a padded row: the unmasked path is what is compared
    if extra and "--padding_free" not in extra:
        # make the LoRA B matrices non-zero, so the adapters' gradients are not trivially zero
        with torch.no_grad():
            for name, p in trainer.model.named_parameters():
                if "lora_B" in name:
                    p.normal_(0, 0.02)

    ours = _loss_grads_metrics(trainer, type(trainer).compute_loss, batch, num_items)
    trl = _loss_grads_metrics(trainer, SFTTrainer.compute_loss, batch, num_items)
    assert type(trainer).compute_loss is not SFTTrainer.compute_loss
    torch.testing.assert_close(ours[0], trl[0], rtol=1e-5, atol=1e-6)
    assert ours[1].keys() == trl[1].keys() and ours[1]
    for name in ours[1]:
        torch.testing.assert_close(ours[1][name], trl[1][name], rtol=1e-4, atol=1e-6, msg=name)
    assert ours[2].keys() == trl[2].keys()
    for key in ("entropy", "mean_token_accuracy", "num_tokens"):
        assert ours[2][key] == pytest.approx(trl[2][key], rel=1e-4, abs=1e-6), key


def test_only_right_padding_runs_without_its_mask():
    ones = torch.ones(2, 5, dtype=torch.long)
    right = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])
    assert right_padded_only(ones) and right_padded_only(right)
    assert not right_padded_only(right.flip(-1))  # left padding: positions and keys need the mask
    assert not right_padded_only(torch.tensor([[1, 0, 1, 1, 1]]))  # a hole
    assert not right_padded_only(torch.tensor([[0, 0, 0]]))  # an empty row
    assert not right_padded_only(None) and not right_padded_only(torch.ones(1, 1, 3, 3))


def _non_pad_share(order: list[int], lengths: list[int], batch: int) -> float:
    batches = [order[k : k + batch] for k in range(0, len(order), batch)]
    return sum(lengths[i] for i in order) / sum(len(b) * max(lengths[i] for i in b) for b in batches)


def test_length_window_sampler_groups_tighter_than_transformers():
    import random

    from transformers.trainer_pt_utils import get_length_grouped_indices

    from sft_recipes.train.trainer import LengthWindowSampler

    rng = random.Random(0)
    lengths = [31 + max(3, int(rng.gauss(30, 10))) for _ in range(256)]  # template + short Alpaca-style rows
    lengths[17] = max(lengths) + 1
    sampler = LengthWindowSampler(lengths, batch_size=8, seed=42)
    order = list(sampler)
    assert sorted(order) == list(range(256))  # every row exactly once
    assert 17 in order[:8]  # the longest row is in the first batch
    assert list(sampler) == order  # same epoch, same order (every process agrees)
    sampler.set_epoch(1)
    assert list(sampler) != order and sorted(sampler) == list(range(256))
    torch.manual_seed(0)
    transformers_share = _non_pad_share(get_length_grouped_indices(lengths, 8), lengths, 8)
    ours = _non_pad_share(order, lengths, 8)
    assert ours > 0.98 > transformers_share
    # batches come in random order, not sorted by length
    maxima = [max(lengths[i] for i in order[k : k + 8]) for k in range(8, 256, 8)]
    assert maxima != sorted(maxima, reverse=True) and maxima != sorted(maxima)


def test_group_by_length_uses_the_window_sampler(tiny_model_dir, alpaca_file, tmp_path):  # noqa: F811
    from sft_recipes.train.trainer import LengthWindowSampler

    recipe = tiny_recipe(tiny_model_dir, alpaca_file, tmp_path / "run", "--max_steps", "1",
                         "--train_sampling_strategy", "group_by_length")
    trainer = build_trainer(recipe, ensure_prepared(recipe))
    assert isinstance(trainer._get_train_sampler(), LengthWindowSampler)
