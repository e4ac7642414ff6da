"""Packing (TRL's bfd: position_ids, padding-free) must not let examples attend to each other."""

import torch
from transformers import AutoModelForCausalLM
from trl.trainer.sft_trainer import DataCollatorForLanguageModeling


def test_packed_rows_match_rows_alone(tiny_model_dir, smol_tokenizer):
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32).eval()
    texts = ["The court affirmed the judgment.", "Summarize the opinion in one sentence please.", "Paris."]
    rows = [{"input_ids": smol_tokenizer(t)["input_ids"]} for t in texts]
    collator = DataCollatorForLanguageModeling(pad_token_id=smol_tokenizer.pad_token_id, padding_free=True)
    packed = collator(rows)
    assert packed["input_ids"].shape[0] == 1 and "attention_mask" not in packed
    with torch.no_grad():
        # use_cache=False as in training: transformers only derives the block mask from position_ids without a KV cache
        packed_logits = model(
            input_ids=packed["input_ids"], position_ids=packed["position_ids"], use_cache=False
        ).logits[0]
        start = 0
        for row in rows:
            ids = torch.tensor([row["input_ids"]])
            alone = model(input_ids=ids).logits[0]
            n = ids.shape[1]
            torch.testing.assert_close(packed_logits[start : start + n], alone, atol=1e-5, rtol=1e-4)
            start += n


def test_packing_without_boundaries_would_leak(tiny_model_dir, smol_tokenizer):
    """The check above can fail: the same concatenation with plain positions gives different logits."""
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32).eval()
    a = smol_tokenizer("The court affirmed the judgment.")["input_ids"]
    b = smol_tokenizer("Paris is the capital.")["input_ids"]
    with torch.no_grad():
        joined = model(input_ids=torch.tensor([a + b])).logits[0, len(a) :]
        alone = model(input_ids=torch.tensor([b])).logits[0]
    assert not torch.allclose(joined, alone, atol=1e-4)
