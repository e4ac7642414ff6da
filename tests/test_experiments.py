"""Experiments: the corruption functions (deterministic, rate respected, each kind really applied), the
base-vs-tuned measures, and every experiment run end to end at tiny scale (tiny model, few rows, 2 steps)."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

import pytest

from sft_recipes.recipe import load_recipe
from sft_recipes.experiments.base_vs_tuned import (
    measure,
    question_of,
    read_prompts,
    repeats_prompt,
    run_base_vs_tuned,
    starts_new_turn,
    summarize_measures,
)
from sft_recipes.experiments.corruption import (
    CorruptionError,
    corrupt_rows,
    inject_junk,
    shuffle_words,
    truncate,
)
from sft_recipes.experiments.noisy_vs_clean import run_noisy_vs_clean

ROOT = Path(__file__).resolve().parents[1]
ANSWER = "The court held that the contract was void because the seller never signed the final written agreement"


def conversation(i: int, answers: list[str]) -> dict:
    messages = [{"role": "system", "content": "Be brief.", "train": None}]
    for k, a in enumerate(answers):
        messages += [{"role": "user", "content": f"Question {i}.{k}?", "train": None},
                     {"role": "assistant", "content": a, "train": None}]
    return {"messages": messages, "source": f"rows.jsonl:{i + 1}", "task": "", "id": str(i), "group": str(i)}


def corpus(n: int = 30) -> list[dict]:
    rng = random.Random(3)
    words = ANSWER.split()
    return [conversation(i, [" ".join(rng.sample(words, 10)), "REVERSED"]) for i in range(n)]


# ---------------------------------------------------------------- corruption


def test_each_corruption_kind_does_what_it_says():
    rng = random.Random(0)
    shuffled = shuffle_words(ANSWER, rng)
    assert sorted(shuffled.split()) == sorted(ANSWER.split()) and shuffled != ANSWER
    cut = truncate(ANSWER, rng)
    n = len(cut.split())
    assert ANSWER.startswith(cut) and 0.2 * len(ANSWER.split()) - 1 <= n <= 0.6 * len(ANSWER.split())
    assert truncate("REVERSED", rng) in {"R", "RE", "REV", "REVE"}  # one word: characters are cut instead
    junk = inject_junk(ANSWER, rng)
    added = Counter(junk.split()) - Counter(ANSWER.split())
    assert sum(added.values()) == round(0.3 * len(ANSWER.split()))
    assert [w for w in junk.split() if w in ANSWER.split()] == ANSWER.split()  # original words, in order


@pytest.mark.parametrize("rate", [0.0, 0.1, 0.5, 1.0])
def test_corruption_rate_is_respected_exactly(rate):
    rows = corpus()
    result = corrupt_rows(rows, rate, seed=7)
    total = sum(1 for r in rows for m in r["messages"] if m["role"] == "assistant")
    changed = [(r, k) for r, (a, b) in enumerate(zip(rows, result.rows))
               for k, (ma, mb) in enumerate(zip(a["messages"], b["messages"])) if ma["content"] != mb["content"]]
    assert result.assistant_messages == total == 60
    assert len(changed) == result.corrupted == round(rate * total)
    assert all(result.rows[r]["messages"][k]["role"] == "assistant" for r, k in changed)  # prompts never touched
    assert result.summary()["applied_rate"] == pytest.approx(round(rate * total) / total)


def test_corruption_is_deterministic_per_seed_and_leaves_input_alone():
    rows = corpus()
    before = json.dumps(rows)
    a, b = corrupt_rows(rows, 0.5, seed=11), corrupt_rows(rows, 0.5, seed=11)
    c = corrupt_rows(rows, 0.5, seed=12)
    assert a.rows == b.rows and a.log == b.log
    assert a.rows != c.rows
    assert json.dumps(rows) == before


def test_corruption_kinds_are_dealt_out_and_logged():
    rows = [conversation(i, [ANSWER]) for i in range(30)]
    result = corrupt_rows(rows, 0.6, seed=5)
    assert result.kind_counts == {"shuffle": 6, "truncate": 6, "junk": 6}
    for entry in result.log:
        row = result.rows[int(entry["id"])]
        assert row["messages"][entry["message"]]["content"] == entry["corrupted"] != entry["original"]
    only = corrupt_rows(rows, 0.2, seed=5, kinds=["truncate"])
    assert only.kind_counts == {"truncate": 6}


def test_a_kind_that_cannot_change_a_response_hands_over():
    rows = [conversation(i, ["REVERSED"]) for i in range(6)]
    result = corrupt_rows(rows, 1.0, seed=0, kinds=["shuffle", "junk"])
    # shuffling one word changes nothing: every message still gets corrupted, by junk
    assert result.kind_counts == {"junk": 6}
    assert all(e["corrupted"] != "REVERSED" for e in result.log)


def test_corruption_settings_fail_loudly():
    with pytest.raises(CorruptionError, match=r"rate must be in \[0, 1\]"):
        corrupt_rows(corpus(), 1.5, seed=0)
    with pytest.raises(CorruptionError, match="unknown corruption 'reverse'"):
        corrupt_rows(corpus(), 0.5, seed=0, kinds=["reverse"])


# ---------------------------------------------------------------- base vs tuned: measures


def test_base_vs_tuned_measures():
    question = "Give three tips for staying healthy and happy at work"
    assert repeats_prompt("Give three tips for staying healthy and happy at work. Also give", question)
    assert not repeats_prompt("Eat well, sleep, and move every day.", question)
    assert repeats_prompt("Sure. What is 2 + 2? It is 4.", "What is 2+2?")  # compared after normalisation
    assert not repeats_prompt("It is 4.", "What is 2+2?")
    assert repeats_prompt("You asked: what is the capital of France? Paris.", "What is the capital of France?")
    assert starts_new_turn("Paris.\n### Instruction:\nName a river.")
    assert starts_new_turn("Paris.\nUser: and Spain?")
    assert starts_new_turn("Paris.<|im_start|>user")
    assert not starts_new_turn("Paris is the capital.")
    m = measure("Paris.", new_tokens=3, max_new_tokens=32, question="Capital of France?")
    assert m["stops"] and m["words"] == 1 and not m["empty"]
    assert not measure("a " * 32, new_tokens=32, max_new_tokens=32, question="q")["stops"]
    s = summarize_measures([m, measure("", 32, 32, "q")])
    assert s["stops_rate"] == 0.5 and s["empty_rate"] == 0.5 and s["mean_words"] == 0.5


def test_question_is_the_request_not_the_document():
    from sft_recipes.tasks.court_opinions import INSTRUCTIONS

    opinion = "SMITH v. JONES\nSupreme Court of Ohio\n\nJones sued Smith over a fence that stood on the line."
    court_row = [{"role": "system", "content": "You are a clerk."},
                 {"role": "user", "content": f"{opinion}\n\n{INSTRUCTIONS['summarize']}"}]
    assert question_of(court_row, "summarize") == INSTRUCTIONS["summarize"]
    alpaca_row = [{"role": "user", "content": f"Which court issued this opinion?\n\n{opinion}"}]
    assert question_of(alpaca_row) == "Which court issued this opinion?"
    assert question_of([{"role": "user", "content": "Name a prime."}]) == "Name a prime."


def test_read_prompts_formats(tmp_path):
    txt = tmp_path / "p.txt"
    txt.write_text("First prompt\n\nSecond prompt\n")
    assert [p["messages"][0]["content"] for p in read_prompts(txt)] == ["First prompt", "Second prompt"]
    rows = tmp_path / "rows.jsonl"
    rows.write_text(json.dumps(conversation(0, ["A1", "A2"])) + "\n" + json.dumps({"prompt": "Hi"}) + "\n")
    first, second = read_prompts(rows)
    assert [m["role"] for m in first["messages"]] == ["system", "user", "assistant", "user"]  # up to the last answer
    assert second["messages"] == [{"role": "user", "content": "Hi"}]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "ok"}\n{"text": 3}\n')
    from sft_recipes.experiments import ExperimentError

    with pytest.raises(ExperimentError, match=r"bad.jsonl:2: expected"):
        read_prompts(bad)


# ---------------------------------------------------------------- experiments end to end (tiny model)


FACTS = [
    ("What is the capital of France?", "Paris."), ("Name the largest planet.", "Jupiter."),
    ("What colour is the sky on a clear day?", "Blue."), ("How many legs does a spider have?", "Eight."),
    ("What is two plus two?", "Four."), ("Which metal is liquid at room temperature?", "Mercury."),
    ("What do bees make?", "Honey."), ("What is frozen water called?", "Ice."),
    ("Which animal is known as the king of the jungle?", "The lion."),
    ("What gas do plants absorb?", "Carbon dioxide."),
    ("How many days are in a week?", "Seven."), ("What is the opposite of hot?", "Cold."),
    ("Which planet is known as the red planet?", "Mars."), ("What do cows drink?", "Water."),
    ("What is the boiling point of water in Celsius?", "One hundred degrees."), ("Who wrote Hamlet?", "Shakespeare."),
]


@pytest.fixture()
def facts_file(tmp_path) -> Path:
    path = tmp_path / "facts.jsonl"
    path.write_text("".join(json.dumps({"instruction": q, "input": "", "output": a}) + "\n" for q, a in FACTS))
    return path


def tiny_recipe(tiny_model_dir, data_file, out, *extra):
    return load_recipe(None, [
        "--model_name_or_path", str(tiny_model_dir), "--output_dir", str(out),
        "--use_peft", "--lora_r", "4", "--learning_rate", "5e-3",
        "--validation_size", "0", "--test_size", "0.25", "--max_steps", "2",
        "--per_device_train_batch_size", "4", "--max_length", "128", "--save_strategy", '"no"',
        "--disable_tqdm", "true", "--eval_max_new_tokens", "6", "--eval_batch_size", "8", *extra,
    ], datasets=[{"path": str(data_file), "format": "alpaca"}])


def test_base_vs_tuned_end_to_end(tiny_model_dir, facts_file, tmp_path):
    recipe = tiny_recipe(tiny_model_dir, facts_file, tmp_path / "run")
    report = run_base_vs_tuned(recipe, num=3, max_new_tokens=5)  # prompts: the recipe's test split, prepared here
    out = tmp_path / "run" / "base_vs_tuned"
    assert report["tuned_is_base"] and report["prompt_source"] == "recipe test split"  # no trained run yet
    rows = [json.loads(line) for line in (out / "generations.jsonl").read_text().splitlines()]
    assert len(rows) == report["prompts"] == 3
    test_rows = [json.loads(line) for line in (tmp_path / "run" / "data" / "test.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == [r["id"] for r in test_rows[:3]]
    for r in rows:
        assert "<|im_start|>" not in r["raw_prompt"] and r["question"] in r["raw_prompt"]
        assert r["templated_prompt"].rstrip().endswith("<|im_start|>assistant")
        assert r["question"] in r["templated_prompt"]
        for side in ("base", "tuned"):
            m = r[side]
            assert 0 < m["new_tokens"] <= 5 and m["stops"] == (m["new_tokens"] < 5)
            assert m["words"] == len(m["answer"].split()) and m["new_turn"] == starts_new_turn(m["answer"])
    summary = report["summary"]["base (raw)"]
    assert summary["mean_new_tokens"] == pytest.approx(sum(r["base"]["new_tokens"] for r in rows) / 3, abs=0.05)
    assert json.loads((out / "report.json").read_text())["summary"] == report["summary"]
    assert (out / "behaviour.png").read_bytes()[:4] == b"\x89PNG"
    markdown = (out / "report.md").read_text()
    assert "| 3 |" in markdown and "stops by itself" in markdown and "behaviour.png" in markdown


def test_noisy_vs_clean_end_to_end_with_judge(tiny_model_dir, facts_file, tmp_path, monkeypatch):
    from judge_server import FakeJudgeServer, Reply

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    out = tmp_path / "nvc"
    with FakeJudgeServer(lambda body, n: Reply("The first answer is better. [[A]]")) as server:
        recipe = tiny_recipe(tiny_model_dir, facts_file, out, "--judge_base_url", server.url,
                             "--judge_model", "fake-judge")
        report = run_noisy_vs_clean(recipe, rate=0.5, kinds=["shuffle", "truncate", "junk"])
        requests = server.count

    clean_rows = [json.loads(x) for x in Path(report["data"]["clean_file"]).read_text().splitlines()]
    noisy_rows = [json.loads(x) for x in Path(report["data"]["noisy_file"]).read_text().splitlines()]
    train_rows = [json.loads(x) for x in (out / "data" / "train.jsonl").read_text().splitlines()]
    assert [r["messages"] for r in clean_rows] == [r["messages"] for r in train_rows]
    differ = [i for i, (a, b) in enumerate(zip(clean_rows, noisy_rows)) if a["messages"] != b["messages"]]
    assert len(differ) == report["corruption"]["corrupted"] == round(0.5 * len(train_rows))
    assert all(clean_rows[i]["messages"][:-1] == noisy_rows[i]["messages"][:-1] for i in differ)  # prompts intact

    for name in ("clean", "noisy"):
        assert (out / name / "adapter_model.safetensors").is_file()
        assert report["training"][name]["global_step"] == 2
        assert report["training"][name]["train_rows"] == len(train_rows)
        assert report["training"][name]["rejected_in_prepare"] == {}  # short rows: nothing grows past max_length
        saved = (out / name / "recipe.yaml").read_text()
        assert "learning_rate: 0.005" in saved and "max_steps: 2" in saved  # identical hyperparameters
    metrics = json.loads((out / "eval" / "metrics.json").read_text())
    assert list(metrics["models"]) == ["base", "clean", "noisy"]
    generations = [json.loads(x) for x in (out / "eval" / "generations.jsonl").read_text().splitlines()]
    test_ids = [json.loads(x)["id"] for x in (out / "data" / "test.jsonl").read_text().splitlines()]
    assert [g["id"] for g in generations] == test_ids  # every model answered the same held-out rows
    for name in ("base", "clean", "noisy"):
        assert report["eval"][name]["headline"] == metrics["models"][name]["overall"]["headline"]
        assert report["eval"][name]["heldout_loss"] == metrics["models"][name]["heldout"]["loss"]

    # the judge saw every held-out row in both orders; "always A" is position bias, so no model wins
    assert requests == 2 * len(generations)
    judge = report["judge"]
    assert judge["complete_pairs"] == len(generations) and judge["ties"] == len(generations)
    assert judge["judge_model"] == "fake-judge" and (out / "judge" / "judgments.jsonl").is_file()

    # a second call reuses both runs when nothing that changes training differs, and only then
    from sft_recipes.experiments.noisy_vs_clean import derive_recipe, finished_run

    same = derive_recipe(recipe, Path(report["data"]["clean_file"]), out / "clean")
    assert finished_run(same)["train_loss"] == report["training"]["clean"]["train_loss"]
    same.training.learning_rate = 1e-4
    assert finished_run(same) is None

    markdown = (out / "report.md").read_text()
    assert "noisy − clean" in markdown and "Judge (clean vs noisy" in markdown and "noisy_vs_clean.png" in markdown
    assert (out / "noisy_vs_clean.png").read_bytes()[:4] == b"\x89PNG"
    assert len((out / "corruptions.jsonl").read_text().splitlines()) == report["corruption"]["corrupted"]


def test_alpaca_recipe_prepares_a_local_file_with_a_full_cleaning_report(tiny_model_dir, tmp_path):
    """The alpaca_cleaned recipe names yahma/alpaca-cleaned; offline, the same recipe reads a local Alpaca JSON."""
    from sft_recipes.prepare import run_prepare

    recipe_file = ROOT / "recipes" / "experiments" / "alpaca_cleaned.yaml"
    assert load_recipe(recipe_file).data.dataset_specs[0].path == "yahma/alpaca-cleaned"
    records = [{"instruction": q, "input": "", "output": a} for q, a in FACTS]
    records += [
        {"instruction": "What is the capital of France?", "input": "", "output": "Paris."},  # duplicate of record 1
        {"instruction": "Describe the sea.", "input": "", "output": "   "},  # empty output
        {"instruction": "", "input": "", "output": "An answer to nothing."},  # empty instruction
        {"instruction": "Write a long story.", "input": "", "output": "word " * 200},  # over max_length
        {"instruction": "Is water wet?", "input": "", "output": "Yes"},  # "Yes" + end-of-turn: under 3 tokens
    ]
    data = tmp_path / "alpaca_data.json"
    data.write_text(json.dumps(records, indent=2))  # an array: each record's source is the line it starts on
    starts = [i + 1 for i, line in enumerate(data.read_text().splitlines()) if line.strip() == "{"]

    recipe = load_recipe(recipe_file, ["--datasets", f"[{{path: {data}, format: alpaca}}]",
                                       "--model_name_or_path", str(tiny_model_dir),
                                       "--output_dir", str(tmp_path / "run"), "--max_length", "96",
                                       "--validation_size", "0.1", "--test_size", "0.1"])
    run_prepare(recipe, verbose=False)
    prepared = tmp_path / "run" / "data"
    report = json.loads((prepared / "report.json").read_text())
    reasons = report["reject_reasons"]
    assert reasons["duplicate"] == 1 and reasons["empty output"] == 1 and reasons["empty instruction"] == 1
    assert sum(n for r, n in reasons.items() if r.startswith("too long")) == 1
    assert sum(n for r, n in reasons.items() if r.startswith("response shorter")) == 1
    assert report["rejected"] == 5 == sum(reasons.values())
    rejects = [json.loads(x) for x in (prepared / "rejects.jsonl").read_text().splitlines()]
    by_source = {r["source"]: r["reason"] for r in rejects}
    assert by_source[f"{data}:{starts[16]}"] == f"duplicate of {data}:{starts[0]}"
    assert by_source[f"{data}:{starts[17]}"] == "empty output"
    assert by_source[f"{data}:{starts[18]}"] == "empty instruction"
    assert by_source[f"{data}:{starts[20]}"].startswith("response shorter than min_response_tokens (3)")
    assert sum(report["counts"].values()) == len(FACTS)  # every clean fact ("Paris." is 3 tokens) survives
    markdown = (prepared / "report.md").read_text()
    assert "Rejected rows: **5**" in markdown and "plots/token_lengths.png" in markdown


def test_prepare_rejects_are_counted_by_kind(tmp_path):
    from sft_recipes.experiments.noisy_vs_clean import prepare_rejects

    (tmp_path / "report.json").write_text(json.dumps({"reject_reasons": {
        "too long: 1086 > max_length 1024": 1, "too long: 1030 > max_length 1024": 2, "empty assistant output": 1}}))
    assert prepare_rejects(tmp_path) == {"too long": 3, "empty assistant output": 1}
