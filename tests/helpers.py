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


def sums_file(path, rows: int = 16):
    """An Alpaca-format JSONL file of ``rows`` questions "What is i plus i?" with their answers."""
    import json
    from pathlib import Path

    path = Path(path)
    path.write_text("".join(json.dumps({"instruction": f"What is {i} plus {i}?", "output": f"{2 * i}."}) + "\n"
                            for i in range(rows)), encoding="utf-8")
    return path


def lora_cli_args(command: str, model_dir, data, out, *extra: str) -> list[str]:
    """``sft-recipes COMMAND`` arguments for a small LoRA run of the tiny model on one Alpaca file, no held-out rows."""
    import json

    return [command, "--model_name_or_path", str(model_dir), "--output_dir", str(out),
            "--datasets", json.dumps([{"path": str(data), "format": "alpaca"}]),
            "--validation_size", "0", "--test_size", "0", "--per_device_train_batch_size", "4",
            "--use_peft", "--lora_r", "4", "--disable_tqdm", "true", *extra]
