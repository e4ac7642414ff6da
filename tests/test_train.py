"""Training: each method lowers the loss on a small overfit set, the saved output reproduces the trained model,
a resumed run ends where an uninterrupted one does, and every shipped recipe still runs (2 steps, tiny model)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from transformers import TrainerCallback

from sft_recipes.recipe import load_recipe
from sft_recipes.train import train

ROOT = Path(__file__).resolve().parents[1]

FACTS = [
    ("What is the capital of France?", "Paris."),
    ("Name the largest planet.", "Jupiter."),
    ("What colour is the sky on a clear day?", "Blue."),
    ("How many legs does a spider have?", "Eight."),
    ("What is two plus two?", "Four."),
    ("Which metal is liquid at room temperature?", "Mercury."),
    ("What do bees make?", "Honey."),
    ("What is frozen water called?", "Ice."),
]


@pytest.fixture(scope="module")
def alpaca_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("data") / "facts.jsonl"
    with path.open("w") as f:
        for q, a in FACTS:
            f.write(json.dumps({"instruction": q, "input": "", "output": a}) + "\n")
    return path


def tiny_recipe(tiny_model_dir, data_file, out, *extra, **values):
    overrides = [
        "--model_name_or_path", str(tiny_model_dir),
        "--output_dir", str(out),
        "--validation_size", "0", "--test_size", "0",
        "--per_device_train_batch_size", "4",
        "--logging_steps", "1", "--save_strategy", "no", "--disable_tqdm", "true",
        "--lr_scheduler_type", "constant", "--warmup_steps", "0", "--max_length", "128",
        *extra,
    ]
    return load_recipe(None, overrides, datasets=[{"path": str(data_file), "format": "alpaca"}], **values)


def trained_logits(output_dir: Path, batch) -> torch.Tensor:
    from sft_recipes.inference.loading import load_for_inference

    model, _ = load_for_inference(str(output_dir), merge=False)  # the saved adapter itself, not a merge of it
    with torch.no_grad():
        return model(**batch).logits


def probe_batch(tokenizer):
    return tokenizer(["What is the capital of France? Paris."], return_tensors="pt")


@pytest.mark.parametrize(
    "method, extra",
    [
        ("lora", ["--use_peft", "--lora_r", "8", "--learning_rate", "1e-2"]),
        ("full", ["--learning_rate", "2e-3"]),
        ("qlora", ["--use_peft", "--load_in_4bit", "--lora_r", "8", "--learning_rate", "1e-2"]),
    ],
)
def test_method_lowers_loss_and_reloads(tiny_model_dir, alpaca_file, tmp_path, method, extra):
    class KeepModel(TrainerCallback):
        def on_train_end(self, args, state, control, model=None, **kw):
            self.model = model

    keep = KeepModel()
    recipe = tiny_recipe(tiny_model_dir, alpaca_file, tmp_path / method, "--max_steps", "30", *extra)
    result = train(recipe, callbacks=[keep])
    s = result.summary
    assert s["method"] == method and s["global_step"] == 30
    # The tiny random model starts near the uniform loss ln(49152) = 10.8. Its frozen tied embeddings are small
    # (init std 0.02), which caps how far adapters alone can move the logits: LoRA must drop the loss by a clear
    # margin, full fine-tuning (which trains the embeddings) must halve it.
    if method == "full":
        assert s["final_logged_loss"] < 0.5 * s["first_logged_loss"], s
    else:
        assert s["final_logged_loss"] < s["first_logged_loss"] - 0.4, s
    out = tmp_path / method
    for name in ("recipe.yaml", "metrics.jsonl", "summary.json", "summary.md", "training_curves.png",
                 "tokenizer_config.json", "chat_template.jinja"):
        assert (out / name).is_file(), name
    assert (out / ("model.safetensors" if method == "full" else "adapter_model.safetensors")).is_file()
    assert len((out / "metrics.jsonl").read_text().splitlines()) >= 30

    from transformers import AutoTokenizer

    batch = probe_batch(AutoTokenizer.from_pretrained(out))
    keep.model.eval()
    with torch.no_grad():
        before = keep.model(**batch).logits
    after = trained_logits(out, batch)
    # 4-bit weights are re-quantized identically on reload; LoRA / full weights are saved exactly
    torch.testing.assert_close(after, before, atol=1e-4 if method == "qlora" else 1e-5, rtol=1e-4)


def test_resume_ends_where_uninterrupted_run_ends(tiny_model_dir, alpaca_file, tmp_path):
    common = ["--use_peft", "--lora_r", "8", "--learning_rate", "5e-3", "--max_steps", "8",
              "--save_strategy", "steps", "--save_steps", "4", "--seed", "7"]
    train(tiny_recipe(tiny_model_dir, alpaca_file, tmp_path / "full", *common))

    class StopAt(TrainerCallback):
        def on_step_end(self, args, state, control, **kw):
            if state.global_step == 4:
                control.should_training_stop = True

    interrupted = train(tiny_recipe(tiny_model_dir, alpaca_file, tmp_path / "resumed", *common), callbacks=[StopAt()])
    assert interrupted.global_step == 4 and (tmp_path / "resumed" / "checkpoint-4").is_dir()
    resumed = train(tiny_recipe(tiny_model_dir, alpaca_file, tmp_path / "resumed", *common))  # automatic resume
    assert resumed.summary["resumed_from"].endswith("checkpoint-4")
    assert resumed.global_step == 8

    def last_loss(d):
        rows = [json.loads(x) for x in (d / "metrics.jsonl").read_text().splitlines()]
        return [r["loss"] for r in rows if "loss" in r and r["step"] == 8][-1]

    # same data order (seedable sampler), same optimizer and scheduler state: equal up to float noise
    assert last_loss(tmp_path / "resumed") == pytest.approx(last_loss(tmp_path / "full"), abs=1e-4)
    from transformers import AutoTokenizer

    batch = probe_batch(AutoTokenizer.from_pretrained(tmp_path / "full"))
    torch.testing.assert_close(trained_logits(tmp_path / "resumed", batch), trained_logits(tmp_path / "full", batch),
                               atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("extra", [["--activation_checkpointing", "true"], ["--padding_free", "true"],
                                   ["--packing", "true"]])
def test_lora_with_checkpointing_padding_free_or_packing(tiny_model_dir, alpaca_file, tmp_path, extra):
    """LoRA + activation checkpointing (inputs must require grad), padding-free batches, and bfd packing train."""
    result = train(tiny_recipe(tiny_model_dir, alpaca_file, tmp_path / "run", "--use_peft", "--max_steps", "3",
                               "--learning_rate", "1e-2", *extra))
    assert result.global_step == 3 and result.summary["final_logged_loss"] < result.summary["first_logged_loss"]


RECIPES = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "recipes").rglob("*.yaml"))


@pytest.mark.parametrize("recipe_path", RECIPES)
def test_shipped_recipe_smoke(recipe_path, tiny_model_dir, alpaca_file, tmp_path):
    """Each recipe as shipped, on the tiny model and a local file, for 2 steps: a recipe that rots fails here.
    A recipe for another family's template (trl:gemma3) runs with the tiny model's own: the tiny tokenizer lacks
    that family's tokens (tests/test_gemma_base.py trains the real Gemma recipe shape)."""
    overrides = ["--model_name_or_path", str(tiny_model_dir), "--output_dir", str(tmp_path / "run"),
                 "--max_steps", "2", "--eval_strategy", "no", "--save_strategy", "no", "--disable_tqdm", "true",
                 "--validation_size", "0", "--test_size", "0", "--per_device_train_batch_size", "2"]
    if "chat_template: trl:" in (ROOT / recipe_path).read_text():
        overrides += ["--chat_template", "auto"]
    recipe = load_recipe(ROOT / recipe_path, overrides, datasets=[{"path": str(alpaca_file), "format": "alpaca"}])
    result = train(recipe)
    assert result.global_step == 2
    assert (tmp_path / "run" / "recipe.yaml").is_file()


def test_chatml_on_a_base_model_trains_new_tokens_and_stops(tmp_path, alpaca_file):
    """A base model whose tokenizer has no ChatML: the markers are added, their embedding rows are trained and
    saved with the adapter, and after reload the model ends its answer with <|im_end|> and stops there."""
    from helpers import bpe_tokenizer
    from safetensors.torch import load_file
    from transformers import LlamaConfig, LlamaForCausalLM

    from sft_recipes.inference.loading import load_for_inference

    corpus = [f"{q} {a}" for q, a in FACTS] * 30 + ["user assistant system"] * 30
    tokenizer = bpe_tokenizer(corpus, vocab_size=400, eos_token="<|endoftext|>", bos_token="<|endoftext|>")
    assert "<|im_end|>" not in tokenizer.get_vocab() and tokenizer.chat_template is None
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, tie_word_embeddings=True, eos_token_id=tokenizer.eos_token_id))
    base = tmp_path / "base"
    model.save_pretrained(base)
    tokenizer.save_pretrained(base)

    out = tmp_path / "run"
    recipe = tiny_recipe(base, alpaca_file, out, "--use_peft", "--lora_r", "16", "--lora_alpha", "32",
                         "--learning_rate", "5e-3", "--max_steps", "150", "--chat_template", "chatml")
    result = train(recipe)
    new_ids = result.summary["new_token_ids"]
    assert sorted(new_ids) == [len(tokenizer), len(tokenizer) + 1]  # appended after the base vocabulary
    adapter = load_file(out / "adapter_model.safetensors")
    rows = [v for k, v in adapter.items() if "embed_tokens" in k]
    assert rows and rows[0].shape[0] == len(tokenizer) + 2, "the new token rows are not saved with the adapter"

    tuned, tok = load_for_inference(str(out))
    end = tok.convert_tokens_to_ids("<|im_end|>")
    assert end in new_ids and tok.eos_token == "<|im_end|>"
    for q, a in FACTS[:4]:
        batch = tok.apply_chat_template([{"role": "user", "content": q}], add_generation_prompt=True,
                                        return_tensors="pt", return_dict=True)
        with torch.no_grad():
            out = tuned.generate(**batch, max_new_tokens=24, do_sample=False, eos_token_id=[end])
        new = out[0, batch["input_ids"].shape[1]:].tolist()
        assert new[-1] == end and len(new) < 24, (q, tok.decode(new))  # stopped by itself, on <|im_end|>
        assert tok.decode(new[:-1]).strip() == a, (q, tok.decode(new))
