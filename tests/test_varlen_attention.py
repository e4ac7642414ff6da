"""Per-row attention for padding-free batches (sft_recipes/train/varlen_attention.py): a packed batch gives the loss and
gradients of the same rows padded, builds no (sum L)^2 mask, and attends within each example only."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from transformers import AutoModelForCausalLM, LlamaConfig, Qwen2Config
from transformers.masking_utils import create_causal_mask
from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

from sft_recipes.train import varlen_attention
from test_train import alpaca_file, tiny_recipe  # noqa: F401  (module fixture; tests/ is on sys.path)
from sft_recipes.train.varlen_attention import NAME, example_bounds, register, supports_varlen

LENGTHS = (5, 23, 9, 31, 2, 14)


def _model(config, attn: str, dtype=torch.float32):
    torch.manual_seed(0)
    config.initializer_range = 0.2  # larger weights: attention patterns differ between positions
    model = AutoModelForCausalLM.from_config(config, attn_implementation=attn, dtype=dtype)
    return model.train()  # attention dropout stays 0 in these configs


def _llama():
    return LlamaConfig(vocab_size=97, hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
                       num_key_value_heads=2, max_position_embeddings=256, pad_token_id=0)


def _qwen2_sliding(window: int):
    return Qwen2Config(vocab_size=97, hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
                       num_key_value_heads=2, max_position_embeddings=256, use_sliding_window=True,
                       sliding_window=window, max_window_layers=0, pad_token_id=0)


def _rows(lengths=LENGTHS, vocab=97):
    g = torch.Generator().manual_seed(1)
    rows = []
    for n in lengths:
        ids = torch.randint(1, vocab, (n,), generator=g).tolist()
        labels = [-100] * (n // 3) + ids[n // 3:]  # a prompt part without labels, as in SFT rows
        rows.append({"input_ids": ids, "labels": labels})
    return rows


def _padded(rows):
    longest = max(len(r["input_ids"]) for r in rows)
    ids = torch.zeros(len(rows), longest, dtype=torch.long)
    labels = torch.full((len(rows), longest), -100)
    mask = torch.zeros(len(rows), longest, dtype=torch.long)
    for i, r in enumerate(rows):
        n = len(r["input_ids"])
        ids[i, :n], labels[i, :n], mask[i, :n] = torch.tensor(r["input_ids"]), torch.tensor(r["labels"]), 1
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def _packed(rows):
    batch = DataCollatorForLanguageModeling(pad_token_id=0, padding_free=True)(rows)
    assert batch["input_ids"].shape[0] == 1 and "attention_mask" not in batch
    return batch


def _loss_and_grads(model, batch):
    model.zero_grad()
    loss = model(**batch, use_cache=False).loss
    loss.backward()
    return loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def _assert_same(a, b, elementwise: bool = False):
    """Loss and every gradient within rtol 1e-5. In float64, element by element; in float32 the two batch shapes
    round differently (about 1e-7 absolute, transformers' own sdpa gives the same), so relative to each tensor's
    largest value."""
    torch.testing.assert_close(a[0], b[0], rtol=1e-5, atol=0)
    assert a[1].keys() == b[1].keys() and a[1]
    for name in a[1]:
        atol = 0.0 if elementwise else 1e-5 * float(b[1][name].abs().max())
        torch.testing.assert_close(a[1][name], b[1][name], rtol=1e-5, atol=atol, msg=name)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["fp32", "fp64"])
@pytest.mark.parametrize("config", [_llama, lambda: _qwen2_sliding(8)], ids=["llama", "qwen2-sliding-window-8"])
def test_packed_batch_has_the_loss_and_gradients_of_the_rows_padded(config, dtype):
    register()
    rows = _rows()
    padded = _loss_and_grads(_model(config(), "sdpa", dtype), _padded(rows))
    model = _model(config(), NAME, dtype)
    assert supports_varlen(model)
    exact = dtype == torch.float64
    _assert_same(_loss_and_grads(model, _packed(rows)), padded, exact)
    # TRL's collator gives cu_seq_lens; without them the boundaries come from position_ids, with the same result
    batch = {k: v for k, v in _packed(rows).items() if k in ("input_ids", "labels", "position_ids")}
    _assert_same(_loss_and_grads(model, batch), padded, exact)


def test_the_check_fails_when_examples_attend_to_each_other(monkeypatch):
    """A mutation of the masking (one example per row: the examples of a packed row see each other) must fail."""
    register()
    rows = _rows()
    padded = _loss_and_grads(_model(_llama(), "sdpa"), _padded(rows))
    model = _model(_llama(), NAME)
    monkeypatch.setattr(varlen_attention, "example_bounds", lambda b, n, *a: [[(0, n)]] * b)
    with pytest.raises(AssertionError):
        _assert_same(_loss_and_grads(model, _packed(rows)), padded)


def test_no_mask_is_built_and_each_example_is_attended_alone(monkeypatch):
    register()
    config = _llama()
    config._attn_implementation = NAME
    batch = _packed(_rows())
    embeds = torch.zeros(1, batch["input_ids"].shape[1], 8)
    assert create_causal_mask(config, embeds, None, None, position_ids=batch["position_ids"]) is None
    config._attn_implementation = "sdpa"
    dense = create_causal_mask(config, embeds, None, None, position_ids=batch["position_ids"])
    assert dense.shape[-2:] == (sum(LENGTHS), sum(LENGTHS))  # what sdpa builds per batch: (sum L)^2

    seen = []
    real = F.scaled_dot_product_attention

    def spy(q, k, v, **kw):
        seen.append((q.shape[2], k.shape[2], kw.get("attn_mask") is None and kw.get("is_causal")))
        return real(q, k, v, **kw)

    monkeypatch.setattr(varlen_attention.F, "scaled_dot_product_attention", spy)
    model = _model(_llama(), NAME)
    model(**batch, use_cache=False)
    # every layer: one causal kernel call per example, over that example's own length
    assert seen == [(n, n, True) for n in LENGTHS] * model.config.num_hidden_layers


def test_padded_batches_and_generation_match_sdpa():
    register()
    rows = _rows()
    batch = _padded(rows)
    with torch.no_grad():
        ours = _model(_llama(), NAME).eval()
        theirs = _model(_llama(), "sdpa").eval()
        torch.testing.assert_close(ours(**batch).logits, theirs(**batch).logits, rtol=1e-5, atol=1e-6)
        prompt = {"input_ids": batch["input_ids"][:2, :5], "attention_mask": batch["attention_mask"][:2, :5]}
        kwargs = dict(max_new_tokens=6, do_sample=False, pad_token_id=0)
        assert torch.equal(ours.generate(**prompt, **kwargs), theirs.generate(**prompt, **kwargs))


def test_a_bidirectional_overlay_gets_the_full_mask():
    from transformers.masking_utils import causal_mask_function, or_masks

    def image_block(batch_idx, head_idx, q_idx, kv_idx):
        return (q_idx < 4) & (kv_idx < 4)  # the first 4 tokens see each other

    mask = varlen_attention.varlen_sdpa_mask(1, 6, 6, mask_function=or_masks(causal_mask_function, image_block),
                                             allow_is_causal_skip=False)
    assert mask is not None and bool(mask[0, 0, 0, 3]) and not bool(mask[0, 0, 4, 5])
    assert varlen_attention.varlen_sdpa_mask(1, 6, 6, allow_is_causal_skip=False) is None


def test_example_bounds():
    pos = torch.tensor([[0, 1, 2, 0, 1, 0, 1, 2, 3]])
    assert example_bounds(1, 9, position_ids=pos) == [[(0, 3), (3, 5), (5, 9)]]
    cu = torch.tensor([0, 3, 5, 9], dtype=torch.int32)
    assert example_bounds(1, 9, cu_seq_lens=cu, position_ids=pos) == [[(0, 3), (3, 5), (5, 9)]]
    assert example_bounds(2, 4) == [[(0, 4)], [(0, 4)]]
    two_rows = torch.tensor([[0, 1, 0, 1], [0, 1, 2, 3]])
    assert example_bounds(2, 4, position_ids=two_rows) == [[(0, 2), (2, 4)], [(0, 4)]]


@pytest.mark.parametrize("extra, expected", [
    (["--padding_free", "true"], NAME),
    (["--packing", "true"], NAME),  # TRL's bfd packing: padding-free rows
    ([], "sdpa"),
    (["--padding_free", "true", "--attn_implementation", "eager"], "eager"),  # a recipe's choice stays
])
def test_cpu_training_picks_per_row_attention_for_padding_free_batches(tiny_model_dir, alpaca_file, tmp_path,  # noqa: F811
                                                                        extra, expected):
    from sft_recipes.prepare import ensure_prepared
    from sft_recipes.train import build_trainer

    recipe = tiny_recipe(tiny_model_dir, alpaca_file, tmp_path / "run", "--max_steps", "1", *extra)
    trainer = build_trainer(recipe, ensure_prepared(recipe))
    assert trainer.model.config._attn_implementation == expected


def test_gpu_padding_free_batches_load_flash_attention_when_installed(monkeypatch):
    from types import SimpleNamespace

    from sft_recipes.train import attention_choice

    model_args = SimpleNamespace(attn_implementation=None)
    args = SimpleNamespace(padding_free=True, packing=False, packing_strategy="bfd", use_cpu=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(attention_choice, "flash_attention_installed", lambda: True)
    assert attention_choice.attention_at_load(model_args, args) == "flash_attention_2"
    monkeypatch.setattr(attention_choice, "flash_attention_installed", lambda: False)
    assert attention_choice.attention_at_load(model_args, args) is None  # transformers' sdpa
    monkeypatch.setattr(attention_choice, "flash_attention_installed", lambda: True)
    assert attention_choice.attention_at_load(model_args, SimpleNamespace(**{**vars(args), "padding_free": False})) \
        is None
    assert attention_choice.attention_at_load(SimpleNamespace(attn_implementation="sdpa"), args) == "sdpa"
