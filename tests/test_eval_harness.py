"""Held-out loss by hand, adapter loading, and base-vs-tuned comparison end to end on the tiny model."""

import json
import shutil
import math
from types import SimpleNamespace

import pytest
import torch
from datasets import Dataset, DatasetDict

from sft_recipes.evaluation import cli
from sft_recipes.evaluation.compare import EvalDataError, answer_budgets, compare_models, split_prompt
from sft_recipes.inference.settings import GenerationSettings
from sft_recipes.evaluation.heldout import HeldoutError, heldout_loss
from sft_recipes.evaluation.metrics import score_rows
from sft_recipes.inference.loading import load_for_inference

TEST_ROWS = [
    {"id": "op1-holding", "task": "holding", "source": "test.jsonl:1", "messages": [
        {"role": "system", "content": "You are a legal assistant.", "train": False},
        {"role": "user", "content": "What was the disposition?", "train": False},
        {"role": "assistant", "content": "REVERSED", "train": True}]},
    {"id": "op1-citations", "task": "citations", "source": "test.jsonl:2", "messages": [
        {"role": "user", "content": "List the cited authorities.", "train": False},
        {"role": "assistant", "content": "Smith v. Jones, 1 U.S. 2\nDoe v. Roe, 3 F.3d 4", "train": True}]},
    {"id": "op2-summarize", "task": "summarize", "source": "test.jsonl:3", "messages": [
        {"role": "user", "content": "Summarize the opinion.", "train": False},
        {"role": "assistant", "content": "The court held the contract void.", "train": True}]},
    {"id": "chat-1", "task": "", "source": "test.jsonl:4", "messages": [
        {"role": "user", "content": "Hi", "train": False},
        {"role": "assistant", "content": "Hello!", "train": True},
        {"role": "user", "content": "Name a court.", "train": False},
        {"role": "assistant", "content": "The Supreme Court.", "train": True}]},
]


# ---------------------------------------------------------------- held-out loss


class BigramModel(torch.nn.Module):
    """Next-token probabilities depend only on the current token: every NLL can be written down by hand."""

    PROBS = [[0.5, 0.25, 0.25], [0.25, 0.5, 0.25], [0.1, 0.1, 0.8]]

    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Embedding(3, 1)
        self.table = torch.log(torch.tensor(self.PROBS))

    def get_input_embeddings(self):
        return self.embed

    def forward(self, input_ids, attention_mask=None, logits_to_keep=0):
        logits = self.table[input_ids]
        return SimpleNamespace(logits=logits[logits_to_keep] if torch.is_tensor(logits_to_keep) else logits)


BIGRAM_SPLIT = [
    # token 0 -> 1 (p .25), 1 -> 2 (p .25)
    {"input_ids": [0, 1, 2], "labels": [-100, 1, 2]},
    # 2 -> 0 (p .1), 0 -> 1 (p .25); last label masked
    {"input_ids": [2, 2, 0, 1, 1], "labels": [-100, -100, 0, 1, -100]},
    # 1 -> 0 (p .25)
    {"input_ids": [1, 0], "labels": [-100, 0]},
]


@pytest.mark.parametrize("batch_size", [1, 2, 3])
def test_heldout_loss_is_token_weighted_by_hand(batch_size):
    result = heldout_loss(BigramModel(), BIGRAM_SPLIT, batch_size=batch_size, progress=False)
    expected = (4 * math.log(4) + math.log(10)) / 5  # five trained tokens
    assert result.tokens == 5 and result.examples == 3
    assert result.loss == pytest.approx(expected)
    assert result.perplexity == pytest.approx(math.exp(expected))
    mean_of_row_means = (math.log(4) + (math.log(10) + math.log(4)) / 2 + math.log(4)) / 3
    assert result.loss != pytest.approx(mean_of_row_means)  # the pitfall this guards against


def test_heldout_loss_matches_unpadded_computation_on_tiny_model(tiny_model_dir):
    model, _ = load_for_inference(str(tiny_model_dir))
    rows = [
        {"input_ids": [1, 4093, 198, 6004, 2, 198, 1, 520, 9531, 198, 19556, 2],
         "labels": [-100] * 10 + [19556, 2]},
        {"input_ids": [1, 4093, 198, 2683, 2], "labels": [-100, -100, -100, 2683, 2]},
    ]
    nll, count = _reference_loss(model, rows)
    result = heldout_loss(model, Dataset.from_list(rows), batch_size=2, pad_token_id=2, progress=False)
    assert result.tokens == count == 4
    assert result.loss == pytest.approx(nll / count, rel=1e-5)


def _reference_loss(model, rows):
    """One row at a time, no padding, no cache: the reference computation."""
    nll, count = 0.0, 0
    for r in rows:
        with torch.no_grad():
            logp = torch.log_softmax(model(input_ids=torch.tensor([r["input_ids"]])).logits[0].float(), -1)
        for t in range(1, len(r["labels"])):
            if r["labels"][t] != -100:
                nll -= logp[t - 1, r["labels"][t]].item()
                count += 1
    return nll, count


@pytest.mark.parametrize("batch_size", [2, 4, 7])
def test_heldout_loss_from_shared_prefixes_matches_rows_alone(lively_model, batch_size):
    """Three questions about each of two documents (openings of different lengths) and one unrelated row: scored
    from one cached opening per document, the loss is the rows-alone loss, and fewer tokens go through the model."""
    model, tok = lively_model
    docs = ["The Court of Appeals held that the contract was void because the seller never signed it. " * 4,
            "In Smith v. Jones the district court dismissed the complaint for lack of standing. " * 3]
    qa = [("Which court?", " The Court of Appeals."), ("Disposition?", " AFFIRMED"), ("Name?", " Smith v. Jones")]
    rows = []
    for doc in docs:
        for q, a in qa:
            prompt, answer = tok(doc + q)["input_ids"], tok(a)["input_ids"]
            rows.append({"input_ids": prompt + answer, "labels": [-100] * len(prompt) + answer})
    lone = tok("Unrelated row. Yes")["input_ids"]
    rows.append({"input_ids": lone, "labels": [-100] * (len(lone) - 1) + lone[-1:]})
    nll, count = _reference_loss(model, rows)

    seen = []
    hook = model.get_input_embeddings().register_forward_hook(lambda m, args, out: seen.append(args[0].numel()))
    try:
        shared = heldout_loss(model, rows, batch_size=batch_size, pad_token_id=2, progress=False)
        shared_tokens = sum(seen)
        seen.clear()
        plain = heldout_loss(model, rows, batch_size=batch_size, pad_token_id=2, progress=False, share_prefixes=False)
        plain_tokens = sum(seen)
    finally:
        hook.remove()
    assert shared.tokens == plain.tokens == count
    assert shared.loss == pytest.approx(nll / count, rel=1e-5)
    assert plain.loss == pytest.approx(nll / count, rel=1e-5)
    assert shared_tokens < plain_tokens - sum(len(tok(d)["input_ids"]) for d in docs)


def test_heldout_loss_fails_loudly():
    with pytest.raises(HeldoutError, match="every label is masked"):
        heldout_loss(BigramModel(), [{"input_ids": [0, 1], "labels": [-100, -100]}], progress=False)
    with pytest.raises(HeldoutError, match="token id 7 but the model's vocabulary has 3"):
        heldout_loss(BigramModel(), [{"input_ids": [0, 7], "labels": [-100, 7]}], progress=False)
    with pytest.raises(HeldoutError, match="lacks column"):
        heldout_loss(BigramModel(), Dataset.from_list([{"input_ids": [0, 1]}]), progress=False)


# ---------------------------------------------------------------- adapters and comparison


@pytest.fixture(scope="module")
def adapter_run(tiny_model_dir, smol_tokenizer, tmp_path_factory):
    """A LoRA adapter run dir on the tiny model; non-zero init so the tuned model differs from the base."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(1)
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    peft_model = get_peft_model(
        base, LoraConfig(r=4, lora_alpha=64, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    )
    run = tmp_path_factory.mktemp("run")
    peft_model.save_pretrained(run)
    smol_tokenizer.save_pretrained(run)
    return run


def tokenized_rows(tokenizer, rows):
    """Minimal tokenization for the tests: the whole conversation, labels on the last assistant turn only."""
    out = []
    for r in rows:
        prompt, _ = split_prompt(r)
        full = tokenizer.apply_chat_template([{"role": m["role"], "content": m["content"]} for m in r["messages"]],
                                             tokenize=False)
        head = tokenizer.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True)
        ids = tokenizer(full, add_special_tokens=False)["input_ids"]
        n_head = len(tokenizer(head, add_special_tokens=False)["input_ids"])
        out.append({"input_ids": ids, "labels": [-100] * n_head + ids[n_head:]})
    return Dataset.from_list(out)


def test_load_for_inference_adapter_run(adapter_run, tiny_model_dir):
    from peft import PeftModel

    unmerged, tok = load_for_inference(str(adapter_run), merge=False)
    merged, _ = load_for_inference(str(adapter_run))
    base, _ = load_for_inference(str(tiny_model_dir))
    assert isinstance(unmerged, PeftModel) and not isinstance(merged, PeftModel) and tok.chat_template
    ids = torch.tensor([[1, 4093, 198, 6004, 2]])
    with torch.no_grad():
        tuned_logits = unmerged(input_ids=ids).logits
        assert not torch.allclose(tuned_logits, base(input_ids=ids).logits)
        # merging for inference speed keeps the adapter's function
        torch.testing.assert_close(merged(input_ids=ids).logits, tuned_logits, atol=1e-5, rtol=1e-4)


def test_answer_budgets_follow_each_scored_tasks_longest_reference(smol_tokenizer):
    tasks = ["case_name", "case_name", "holding", "", "summarize"]
    refs = ["Smith v. Jones", "United States v. Ramirez-Delgado", "AFFIRMED", "a free-form answer", "x " * 200]
    n = {r: len(smol_tokenizer(r, add_special_tokens=False)["input_ids"]) for r in refs}
    budgets = answer_budgets(tasks, refs, smol_tokenizer, GenerationSettings(max_new_tokens=64))
    longest_name = max(n[refs[0]], n[refs[1]])
    # a free-form row (no task family scores it) keeps the full budget; none exceeds max_new_tokens
    assert budgets == [2 * longest_name + 16] * 2 + [2 * n["AFFIRMED"] + 16, 64, 64]
    off = GenerationSettings(max_new_tokens=64, task_budgets=False)
    assert answer_budgets(tasks, refs, smol_tokenizer, off) == [64] * 5


def test_split_prompt_uses_last_assistant_turn():
    prompt, reference = split_prompt(TEST_ROWS[3])
    assert reference == "The Supreme Court."
    assert [m["role"] for m in prompt] == ["user", "assistant", "user"]
    with pytest.raises(EvalDataError, match="test.jsonl:9: no assistant turn"):
        split_prompt({"source": "test.jsonl:9", "messages": [{"role": "user", "content": "?"}]})


def test_compare_models_writes_everything(adapter_run, tiny_model_dir, smol_tokenizer, tmp_path):
    from sft_recipes.train.run_log import plot_training_curves

    run = tmp_path / "run"  # the adapter run plus the loss curve a trained run carries
    shutil.copytree(adapter_run, run)
    (run / "metrics.jsonl").write_text("".join(json.dumps({"step": s, "loss": 2.0 / s}) + "\n" for s in (1, 2, 3)))
    plot_training_curves(run / "metrics.jsonl", run / "training_curves.png")
    out = tmp_path / "eval"
    metrics = compare_models(
        {"base": str(tiny_model_dir), "tuned": str(run)},
        TEST_ROWS,
        out,
        GenerationSettings(max_new_tokens=5, batch_size=2),
        tokenized=tokenized_rows(smol_tokenizer, TEST_ROWS),
        format_check_samples=2,
        progress=False,
    )
    generations = [json.loads(line) for line in (out / "generations.jsonl").read_text().splitlines()]
    assert len(generations) == len(TEST_ROWS)
    for g, row in zip(generations, TEST_ROWS):
        assert set(g) == {"id", "task", "messages", "reference", "outputs"}
        assert g["id"] == row["id"] and g["task"] == row["task"]
        assert g["messages"] == [{"role": m["role"], "content": m["content"]} for m in row["messages"][:-1]]
        assert g["reference"] == row["messages"][-1]["content"]
        assert set(g["outputs"]) == {"base", "tuned"} and all(isinstance(v, str) for v in g["outputs"].values())
    assert any(g["outputs"]["base"] != g["outputs"]["tuned"] for g in generations)

    on_disk = json.loads((out / "metrics.json").read_text())
    assert on_disk == json.loads(json.dumps(metrics))
    assert on_disk["num_prompts"] == 4 and on_disk["tasks"] == ["", "citations", "holding", "summarize"]
    for name in ("base", "tuned"):
        result = on_disk["models"][name]
        assert set(result["tasks"]) == set(on_disk["tasks"])
        rescored = score_rows({"task": g["task"], "answer": g["outputs"][name], "reference": g["reference"]}
                              for g in generations)
        assert result["overall"] == pytest.approx(rescored["overall"])
        assert result["heldout"]["tokens"] > 0 and math.isfinite(result["heldout"]["loss"])
        assert result["format_overfitting"]["n"] == 2
    assert on_disk["models"]["base"]["heldout"]["loss"] != pytest.approx(on_disk["models"]["tuned"]["heldout"]["loss"])

    report = (out / "report.md").read_text()
    assert "| task | metric | n | base | tuned | change (base → tuned) |" in report
    for task in ("citations", "holding", "summarize"):
        assert f"| {task} |" in report
    assert "held-out loss" in report and "## Examples" in report
    png = (out / "scores.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 5000
    # the tuned run's loss curve travels with the report; the base model has none
    assert (out / "training_curves_tuned.png").read_bytes() == (run / "training_curves.png").read_bytes()
    assert "## Training curves (tuned)" in report and "(training_curves_tuned.png)" in report
    assert "Training curves (base)" not in report


def test_eval_cli_end_to_end(adapter_run, tiny_model_dir, smol_tokenizer, tmp_path, capsys):
    data = tmp_path / "prepared"
    data.mkdir()
    (data / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in TEST_ROWS))
    tokenized = tokenized_rows(smol_tokenizer, TEST_ROWS)
    DatasetDict({"train": tokenized, "test": tokenized}).save_to_disk(str(data / "tokenized"))
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        f"model_name_or_path: {tiny_model_dir}\noutput_dir: {adapter_run}\nprepared_dir: {data}\n"
        "eval_max_new_tokens: 3\n"
    )
    out = tmp_path / "cli-eval"
    assert cli.main(["--config", str(recipe), "--num_samples", "2", "--out", str(out), "--eval_batch_size", "2"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["num_prompts"] == 2 and metrics["generation"]["max_new_tokens"] == 3
    assert metrics["generation"]["task_budgets"] is True and "answer_budgets" in metrics["models"]["tuned"]
    assert metrics["models"]["base"]["path"] == str(tiny_model_dir)
    assert metrics["models"]["tuned"]["heldout"]["examples"] == 2  # the loss uses the same sample budget
    assert "tuned: headline" in capsys.readouterr().out
    # eval_dtype: auto evaluates in the precision the recipe trains in: bf16 weights give a different held-out loss
    assert metrics["generation"]["dtype"] == "float32"
    out16 = tmp_path / "cli-eval-bf16"
    assert cli.main(["--config", str(recipe), "--num_samples", "2", "--out", str(out16), "--eval_batch_size", "2",
                     "--bf16", "true"]) == 0
    bf16 = json.loads((out16 / "metrics.json").read_text())
    assert bf16["generation"]["dtype"] == "bfloat16"
    fp32_loss, bf16_loss = (m["models"]["tuned"]["heldout"]["loss"] for m in (metrics, bf16))
    assert fp32_loss != bf16_loss and abs(fp32_loss - bf16_loss) < 0.05 * fp32_loss

    (data / "test.jsonl").unlink()
    with pytest.raises(EvalDataError, match="test split not found: .*test.jsonl .*sft-recipes prepare"):
        cli.main(["--config", str(recipe), "--out", str(out)])
    with pytest.raises(EvalDataError, match="no trained run at .*nowhere"):
        cli.main(["--config", str(recipe), "--output_dir", str(tmp_path / "nowhere")])


@pytest.mark.real_model
def test_adapter_on_embedded_base_loads(embedded_dir, tmp_path):
    """adapter_config.json may name the base "embedded": it resolves like a recipe model, not as a Hub id."""
    from peft import LoraConfig, PeftModel, get_peft_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(embedded_dir)
    get_peft_model(base, LoraConfig(r=2, target_modules=["q_proj"])).save_pretrained(tmp_path)
    config = json.loads((tmp_path / "adapter_config.json").read_text())
    config["base_model_name_or_path"] = "embedded"
    (tmp_path / "adapter_config.json").write_text(json.dumps(config))

    model, tok = load_for_inference(str(tmp_path), merge=False)  # no tokenizer in the run dir: the base's is used
    assert isinstance(model, PeftModel)
    assert tok.eos_token == "<|im_end|>" and tok.chat_template
