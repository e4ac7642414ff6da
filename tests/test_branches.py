"""Branch rows (``group_turns: branches``): one document's single-turn rows share the document's tokens, and each row's
own tokens follow as a branch. A branch row must train exactly what its single-turn rows train: the same tokens and
labels per branch, the same loss and gradients as the rows padded side by side, on CPU attention and on a mask."""

from __future__ import annotations

import json

import pytest
import torch
from datasets import Dataset

from sft_recipes.data.branches import MIN_SHARED_TOKENS, branch_rows, merge_branches, shared_length
from sft_recipes.recipe import RecipeError, load_recipe
from sft_recipes.train.branch_batches import BranchCollator, branch_mask
from sft_recipes.train.varlen_attention import NAME, register
from test_varlen_attention import _assert_same, _llama, _loss_and_grads, _model, _padded, _qwen2_sliding

DOC = list(range(10, 10 + 40))  # the shared document's tokens


def _row(question, answer, doc=DOC, system=(1, 2, 3)):
    ids = [*system, *doc, *question, 7, *answer, 8]
    return {"input_ids": ids, "labels": [-100] * (len(ids) - len(answer) - 1) + [*answer, 8]}


def _unbranch(row):
    """The single-turn rows a branch row holds: the shared prefix, then each branch."""
    pos = row["position_ids"]
    starts = [0] + [i for i in range(1, len(pos)) if pos[i] != pos[i - 1] + 1]
    shared = pos[starts[1]] if len(starts) > 1 else 0
    out = []
    for k, s in enumerate(starts):
        e = starts[k + 1] if k + 1 < len(starts) else len(pos)
        head = 0 if k == 0 else shared
        out.append({"input_ids": row["input_ids"][:head] + row["input_ids"][s:e],
                    "labels": row["labels"][:head] + row["labels"][s:e]})
    return out


def test_each_branch_is_its_row_and_nothing_trained_is_shared():
    rows = [_row([60, 61], [70, 71, 72]), _row([62], [73]), _row([63, 64, 65], [74, 75])]
    merged = branch_rows(rows, max_length=None)
    assert len(merged) == 1
    assert _unbranch(merged[0]) == rows
    assert len(merged[0]["input_ids"]) == sum(len(r["input_ids"]) for r in rows) - 2 * (3 + len(DOC))
    # a row whose answer starts inside what the others share: the prefix stops before it
    early = {"input_ids": rows[0]["input_ids"], "labels": [-100] * 5 + rows[0]["input_ids"][5:]}
    assert shared_length([r["input_ids"] for r in (early, rows[1])], [r["labels"] for r in (early, rows[1])]) == 5


def test_max_length_splits_a_group_and_short_prefixes_stay_single():
    rows = [_row([60 + i], [70 + i] * 5) for i in range(6)]
    one = len(rows[0]["input_ids"])
    merged = branch_rows(rows, max_length=one + 2 * 8)  # the prefix and three branches of 8 fit
    assert [len(_unbranch(m)) for m in merged] == [3, 3]
    assert [r for m in merged for r in _unbranch(m)] == rows
    assert all(len(m["input_ids"]) <= one + 16 for m in merged)
    apart = [_row([60], [70], doc=DOC[:MIN_SHARED_TOKENS - 4]), _row([61], [71], doc=DOC[:MIN_SHARED_TOKENS - 4])]
    assert [{k: r[k] for k in ("input_ids", "labels")} for r in branch_rows(apart, None)] == apart


def test_merge_branches_keeps_groups_apart():
    rows = [{**_row([60], [70]), "group": "a", "task": "x"}, {**_row([61], [71], doc=DOC[::-1]), "group": "b",
            "task": "y"}, {**_row([62], [72]), "group": "a", "task": "z"}]
    out = merge_branches(Dataset.from_list(rows), max_length=None)
    assert out.column_names == ["task", "input_ids", "labels", "position_ids"]
    assert len(out) == 2 and out[0]["task"] == "grouped"
    assert _unbranch(out[0]) == [{k: rows[i][k] for k in ("input_ids", "labels")} for i in (0, 2)]


def _branch_batch(groups, with_mask):
    rows = [branch_rows(g, None)[0] for g in groups]
    return BranchCollator(pad_token_id=0, pad_to_multiple_of=8, attention_mask=with_mask)(rows)


def _groups(vocab=97):
    g = torch.Generator().manual_seed(3)

    def ids(n):
        return torch.randint(1, vocab, (n,), generator=g).tolist()

    out = []
    for doc_len, answers in ((37, (4, 9, 2)), (33, (6, 3))):
        doc = ids(doc_len)
        out.append([_row(ids(3), ids(a), doc=doc) for a in answers])
    return out


@pytest.mark.parametrize("config, attention", [(_llama, "varlen"), (lambda: _qwen2_sliding(16), "varlen"),
                                               (_llama, "mask")], ids=["llama", "qwen2-sliding", "llama-mask"])
def test_branch_batch_trains_exactly_its_rows(config, attention):
    groups = _groups()
    singles = [r for g in groups for r in g]
    reference = _loss_and_grads(_model(config(), "sdpa", torch.float64), _padded(singles))
    model = _model(config(), register() if attention == "varlen" else "sdpa", torch.float64)
    batch = _branch_batch(groups, with_mask=attention == "mask")
    assert ("attention_mask" in batch) == (attention == "mask")
    _assert_same(_loss_and_grads(model, batch), reference)  # float64: sums in another order, within 1e-5 of the max


def test_mask_from_positions():
    pos = torch.tensor([[0, 1, 2, 3, 2, 3, 0, 1, 1]])  # prefix of 2 + branch, branch; new example + branch
    mask = branch_mask(pos)[0].int().tolist()
    assert mask[4] == [1, 1, 0, 0, 1, 0, 0, 0, 0]  # second branch: the prefix and itself
    assert mask[5] == [1, 1, 0, 0, 1, 1, 0, 0, 0]
    assert mask[8] == [0, 0, 0, 0, 0, 0, 1, 0, 1]  # the next example's branch: its own first token only
    assert branch_mask(torch.arange(4)[None])[0].equal(torch.ones(4, 4, dtype=torch.bool).tril())


def test_recipe_values():
    assert load_recipe(None, ["--group_turns", "branches"]).data.group_turns == "branches"
    assert load_recipe(None, ["--group_turns", "true"]).data.group_turns is True
    with pytest.raises(RecipeError, match="did you mean 'branches'"):
        load_recipe(None, ["--group_turns", "branchs"])


def _court_recipe(tiny_model_dir, out, group_turns, *extra):
    overrides = ["--model_name_or_path", str(tiny_model_dir), "--output_dir", str(out), "--validation_size", "0",
                 "--test_size", "0.2", "--max_length", "2048", "--per_device_train_batch_size", "2",
                 "--max_steps", "2", "--save_strategy", "no", "--disable_tqdm", "true", "--lr_scheduler_type",
                 "constant", "--warmup_steps", "0", *extra]
    return load_recipe(None, overrides, datasets=[{"path": "embedded:court-opinions"}], synthetic_opinions=10,
                       synthetic_max_words=180, synthetic_heldout_opinions=0, group_turns=group_turns)


def test_prepare_branches_holds_the_single_turn_rows(tmp_path, tiny_model_dir):
    """Synthetic opinions prepared both ways: the branch rows hold exactly the single-turn rows, in fewer tokens."""
    from sft_recipes.prepare import run_prepare

    single = run_prepare(_court_recipe(tiny_model_dir, tmp_path / "single", False), verbose=False)
    branched = run_prepare(_court_recipe(tiny_model_dir, tmp_path / "branches", "branches"), verbose=False)
    a, b = single.dataset["train"], branched.dataset["train"]
    assert "position_ids" in b.column_names and len(b) * 6 == len(a)  # six questions per opinion
    key = lambda r: json.dumps([r["input_ids"], r["labels"]])  # noqa: E731
    assert sorted(key(r) for row in b for r in _unbranch(row)) == sorted(key(r) for r in a)
    assert sum(len(x) for x in b["input_ids"]) < 0.4 * sum(len(x) for x in a["input_ids"])
    assert branched.dataset["test"].column_names == single.dataset["test"].column_names
    report = (branched.directory / "report.md").read_text()
    assert report.count("--- branch 6: sees the first") == 3  # the report's three sample rows


def test_training_on_branches_uses_per_example_attention(tmp_path, tiny_model_dir):
    from sft_recipes.prepare import ensure_prepared
    from sft_recipes.train.run import build_trainer

    recipe = _court_recipe(tiny_model_dir, tmp_path / "run", "branches")
    trainer = build_trainer(recipe, ensure_prepared(recipe))
    assert trainer.model.config._attn_implementation == NAME
    batch = next(iter(trainer.get_train_dataloader()))
    assert "attention_mask" not in batch and batch["position_ids"].shape == batch["input_ids"].shape
    restarts = (batch["position_ids"][:, 1:] != batch["position_ids"][:, :-1] + 1).sum(1)
    assert restarts.tolist() == [5, 5]  # six questions: the first continues the prefix, five branches restart
    result = trainer.train()
    assert result.global_step == 2 and torch.isfinite(torch.tensor(result.training_loss))


def test_branches_refuse_padding_free(tmp_path):
    from sft_recipes import SFTRecipesError
    from sft_recipes.train.run import check_branches

    check_branches(load_recipe(None, ["--group_turns", "branches"]))
    with pytest.raises(SFTRecipesError, match="padding_free"):
        check_branches(load_recipe(None, ["--group_turns", "branches", "--padding_free", "true"]))
    recipe = load_recipe(None, ["--group_turns", "branches"])
    recipe.model.attn_implementation = "flash_attention_2"  # as a GPU machine keeps it (here it becomes sdpa)
    with pytest.raises(SFTRecipesError, match="flash"):
        check_branches(recipe)


def test_one_mask_cannot_hold_sliding_windows():
    from sft_recipes.train.run import has_sliding_window

    assert has_sliding_window(_model(_qwen2_sliding(16), "sdpa"))
    assert not has_sliding_window(_model(_llama(), "sdpa"))


def test_report_preview_shows_each_branch_as_its_row(smol_tokenizer):
    """The prepare report's sample of a branch row: the shared tokens, then each branch under its own line; the
    shared tokens followed by a branch read exactly as that row's own preview."""
    import copy

    from sft_recipes.chat.preview import BRANCH_MARK, preview_text
    from sft_recipes.chat.templates import setup_chat_template
    from sft_recipes.chat.tokenize import tokenize_conversation

    tokenizer = copy.deepcopy(smol_tokenizer)
    info = setup_chat_template(tokenizer, "auto")
    document = "The court reviewed the order de novo and found that the notice was timely served. " * 3
    rows = []
    for question, answer in [("Who won?", "The plaintiff."), ("Which court?", "The Court of Appeals."),
                             ("Disposition?", "REVERSED")]:
        row = tokenize_conversation(tokenizer, [{"role": "user", "content": f"{document}\n\n{question}"},
                                                {"role": "assistant", "content": answer}], info=info)
        rows.append({"input_ids": row.input_ids, "labels": row.labels})
    merged = branch_rows(rows, max_length=None)
    assert len(merged) == 1
    text = preview_text(tokenizer, merged, n=1)
    body = text.split("\n", 1)[1]
    shared = shared_length([r["input_ids"] for r in rows], [r["labels"] for r in rows])
    marks = [BRANCH_MARK.format(number=k, shared=shared) for k in (1, 2, 3)]
    assert all(body.count(m) == 1 for m in marks)
    prefix, *branches = body.replace(marks[1], marks[0]).replace(marks[2], marks[0]).split(f"\n{marks[0]}\n")
    assert len(branches) == 3 and "[[" not in prefix
    for row, branch in zip(rows, branches):
        assert prefix + branch == preview_text(tokenizer, [row], n=1).split("\n", 1)[1]
    assert preview_text(tokenizer, rows[:1], n=1).count("--- branch") == 0  # a row without branches
