"""Test-only builders shared by several test files."""

from __future__ import annotations


def bpe_tokenizer(corpus: list[str], vocab_size: int = 300, special_tokens=("<|endoftext|>",), **token_names):
    """A genuine base-model tokenizer: byte-level BPE trained on ``corpus``, with only ``special_tokens``
    (no ChatML markers, no chat template). ``token_names`` sets eos/bos/unk/pad, e.g. eos_token="<|endoftext|>"."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tk = Tokenizer(models.BPE())
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tk.decoder = decoders.ByteLevel()
    tk.train_from_iterator(corpus, trainers.BpeTrainer(
        vocab_size=vocab_size, show_progress=False, special_tokens=list(special_tokens),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    return PreTrainedTokenizerFast(tokenizer_object=tk, clean_up_tokenization_spaces=False, **token_names)
