"""Win rate per checkpoint: a 4-step tiny-model run judged by the scripted server at each evaluation."""

from __future__ import annotations

import json

from judge_server import FakeJudgeServer, Reply, prompt_text

from sft_recipes.recipe import load_recipe
from sft_recipes.train import train

FACTS = [(f"What is {a} plus {b}?", f"{a + b}.") for a in range(4) for b in range(5)]


def first_answer_wins_if_longer(body, n):
    text = prompt_text(body)
    a = text.split("[The Start of Assistant A's Answer]\n")[1].split("\n[The End")[0]
    b = text.split("[The Start of Assistant B's Answer]\n")[1].split("\n[The End")[0]
    return Reply("[[A]]" if len(a) > len(b) else "[[B]]" if len(b) > len(a) else "[[C]]")


def test_win_rate_logged_at_every_evaluation(tiny_model_dir, tmp_path):
    data = tmp_path / "facts.jsonl"
    data.write_text("".join(json.dumps({"instruction": q, "input": "", "output": a}) + "\n" for q, a in FACTS))
    out = tmp_path / "run"
    with FakeJudgeServer(first_answer_wins_if_longer) as server:
        recipe = load_recipe(None, [
            "--model_name_or_path", str(tiny_model_dir), "--output_dir", str(out),
            "--validation_size", "0.25", "--test_size", "0", "--per_device_train_batch_size", "4",
            "--max_steps", "4", "--eval_strategy", "steps", "--eval_steps", "2", "--logging_steps", "1",
            "--save_strategy", "no", "--disable_tqdm", "true", "--max_length", "64",
            "--use_peft", "--lora_r", "4", "--learning_rate", "5e-2",
            "--judge_prompts", "validation", "--judge_num_prompts", "3", "--judge_model", "judge",
            "--judge_base_url", server.url, "--judge_max_new_tokens", "6",
        ], datasets=[{"path": str(data), "format": "alpaca"}])
        train(recipe)
        assert server.count == 2 * 3 * 2  # 2 evaluations x 3 prompts x both orders

    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    judged = [r for r in rows if "judge_win_rate" in r]
    assert [r["step"] for r in judged] == [2, 4]
    for r in judged:
        assert 0.0 <= r["judge_win_rate"] <= 1.0 and r["judge_pairs"] == 3 and r["judge_failed"] == 0
        summary = json.loads((out / "judge" / f"step-{r['step']}" / "summary.json").read_text())
        assert summary["pairwise"]["win_rate"] == r["judge_win_rate"]
    base = [json.loads(line) for line in (out / "judge" / "base_answers.jsonl").read_text().splitlines()]
    assert len(base) == 3  # generated once, before training
    step2 = [json.loads(x) for x in (out / "judge" / "step-2" / "judgments.jsonl").read_text().splitlines()]
    assert {r["answer_chars"]["base"] for r in step2} == {len(b["answer"]) for b in base}
    assert (out / "training_curves.png").read_bytes()[:4] == b"\x89PNG"


def test_judge_keys_are_checked_before_training(tiny_model_dir, tmp_path):
    import pytest

    from sft_recipes.evaluation.judge.callback import add_win_rate_callback
    from sft_recipes.evaluation.judge.inputs import JudgeError

    base = ["--model_name_or_path", str(tiny_model_dir), "--output_dir", str(tmp_path), "--judge_prompts", "validation"]
    with pytest.raises(JudgeError, match="judge_base_url"):
        add_win_rate_callback(None, load_recipe(None, base + ["--judge_model", "j"]), tmp_path)
    with pytest.raises(JudgeError, match=">= 1"):
        add_win_rate_callback(None, load_recipe(None, base + ["--judge_model", "j", "--judge_base_url", "http://x/v1",
                                                              "--judge_every_steps", "0"]), tmp_path)
    with pytest.raises(JudgeError, match="validation.jsonl not found"):
        add_win_rate_callback(None, load_recipe(None, base + ["--judge_model", "j", "--judge_base_url", "http://x/v1"]),
                              tmp_path)
    assert add_win_rate_callback(None, load_recipe(None, base[:4]), tmp_path) is None  # off by default
