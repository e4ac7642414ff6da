"""Training: each method lowers the loss on a small overfit set, the saved output reproduces the trained model,
a resumed run ends where an uninterrupted one does, and every shipped recipe still runs (2 steps, tiny model)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from transformers import TrainerCallback

from sft_recipes.config import load_recipe
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
    from sft_recipes.generate import load_for_inference

    model, _ = load_for_inference(str(output_dir))
    with torch.no_grad():
        return model(**batch).logits


def probe_batch(tokenizer):
    return tokenizer(["What is the capital of France? Paris."], return_tensors="pt")


@pytest.mark.parametrize(
    "method, extra",
    [
        ("lora", ["--use_peft", "--lora_r", "8", "--learning_rate", "5e-3"]),
        ("full", ["--learning_rate", "2e-3"]),
        ("qlora", ["--use_peft", "--load_in_4bit", "--lora_r", "8", "--learning_rate", "5e-3"]),
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
    assert s["final_logged_loss"] < 0.5 * s["first_logged_loss"], s
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


RECIPES = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "recipes").rglob("*.yaml"))


@pytest.mark.parametrize("recipe_path", RECIPES)
def test_shipped_recipe_smoke(recipe_path, tiny_model_dir, alpaca_file, tmp_path):
    """Each recipe as shipped, on the tiny model and a local file, for 2 steps: a recipe that rots fails here."""
    overrides = ["--model_name_or_path", str(tiny_model_dir), "--output_dir", str(tmp_path / "run"),
                 "--max_steps", "2", "--eval_strategy", "no", "--save_strategy", "no", "--disable_tqdm", "true",
                 "--validation_size", "0", "--test_size", "0", "--per_device_train_batch_size", "2"]
    recipe = load_recipe(ROOT / recipe_path, overrides, datasets=[{"path": str(alpaca_file), "format": "alpaca"}])
    result = train(recipe)
    assert result.global_step == 2
    assert (tmp_path / "run" / "recipe.yaml").is_file()
