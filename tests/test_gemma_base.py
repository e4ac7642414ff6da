"""A second real model of another family: Google's Gemma 3 270M *base* model (embedded from PyPI, no chat template),
given Gemma 3's own template (TRL's shipped copy, ``chat_template: trl:gemma3``), prepared, trained for a few LoRA
steps, and asked questions: the tuned model answers and stops at ``<end_of_turn>``; the base model does not stop."""

from __future__ import annotations

import json

import pytest

from sft_recipes.chat.masking import trained_spans
from sft_recipes.recipe import load_recipe
from sft_recipes.inference.generate import generate_token_ids, stop_token_ids
from sft_recipes.inference.settings import GenerationSettings
from sft_recipes.inference.loading import load_for_inference
from sft_recipes.train import train

PAIRS = [("What is the capital of France?", "Paris."), ("What is the capital of Italy?", "Rome."),
         ("What is the capital of Spain?", "Madrid."), ("What is the capital of Germany?", "Berlin."),
         ("What is the capital of Japan?", "Tokyo."), ("What is the capital of Egypt?", "Cairo."),
         ("What is the capital of Peru?", "Lima."), ("What is the capital of Canada?", "Ottawa."),
         ("What is two plus two?", "Four."), ("What is three plus four?", "Seven."),
         ("What color is the sky?", "Blue."), ("What color is grass?", "Green."),
         ("How many legs does a cat have?", "Four."), ("How many days are in a week?", "Seven."),
         ("What is the opposite of hot?", "Cold."), ("What is the opposite of up?", "Down.")]
SYSTEM = "Answer in one word."
QUESTIONS = ["What is the capital of Peru?", "What color is the sky?", "What is the capital of Norway?"]


@pytest.mark.real_model
def test_gemma3_base_learns_its_template_and_stops(tmp_path):
    data = tmp_path / "qa.jsonl"
    data.write_text("".join(json.dumps({"instruction": q, "output": a}) + "\n" for q, a in PAIRS))
    recipe = load_recipe(None, [
        "--model_name_or_path", "embedded:gemma3-270m", "--chat_template", "trl:gemma3",
        "--system_prompt", SYSTEM, "--validation_size", "0", "--test_size", "0",
        "--use_peft", "true", "--lora_r", "8", "--lora_alpha", "16", "--lora_target_modules", "all-linear",
        "--output_dir", str(tmp_path / "run"), "--max_length", "128", "--max_steps", "12",
        "--per_device_train_batch_size", "4", "--learning_rate", "2e-3", "--lr_scheduler_type", "constant",
        "--save_strategy", "no", "--disable_tqdm", "true", "--seed", "0",
    ], datasets=[{"path": str(data)}])
    result = train(recipe)
    assert result.summary["final_logged_loss"] < result.summary["first_logged_loss"] / 3

    from sft_recipes.prepare import load_prepared

    prepared = load_prepared(tmp_path / "run" / "data")
    end = prepared.tokenizer.convert_tokens_to_ids("<end_of_turn>")
    assert prepared.template.end_of_turn == ["<end_of_turn>"]
    for row in prepared.dataset["train"]:
        [(a, b)] = trained_spans(row["labels"])
        assert row["input_ids"][b - 1] == end  # every reply trains the end of turn

    prompts = [[{"role": "system", "content": SYSTEM}, {"role": "user", "content": q}] for q in QUESTIONS]
    tuned, tokenizer = load_for_inference(str(tmp_path / "run"))
    assert end in stop_token_ids(tokenizer, tuned)
    answers = generate_token_ids(tuned, tokenizer, prompts, GenerationSettings(max_new_tokens=16, batch_size=3),
                                 progress=False)
    assert all(0 < len(a) <= 4 for a in answers), [tokenizer.decode(a) for a in answers]  # stopped at the end
    texts = [tokenizer.decode(a).strip() for a in answers]
    assert texts[:2] == ["Lima.", "Blue."]

    base, base_tokenizer = load_for_inference("embedded:gemma3-270m")
    base_tokenizer.chat_template = tokenizer.chat_template
    untrained = generate_token_ids(base, base_tokenizer, prompts, GenerationSettings(max_new_tokens=16, batch_size=3),
                                 progress=False)
    assert all(len(a) == 16 for a in untrained)  # the base model never ends a turn by itself
