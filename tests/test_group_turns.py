import pytest

from sft_recipes.data.group_turns import merge_groups

DOC = "IRONWOOD FOODS v. ACME. The judgment of the District Court is REVERSED. It is so ordered." * 2


def row(task, question, answer, group="op-1", system="You are a legal assistant.", doc_first=False):
    msgs = [{"role": "system", "content": system, "train": None}] if system else []
    text = f"{DOC}\n\n{question}" if doc_first else f"{question}\n\n{DOC}"
    msgs += [{"role": "user", "content": text, "train": None},
             {"role": "assistant", "content": answer, "train": None}]
    return {"messages": msgs, "source": f"x.jsonl:{task}", "task": task, "id": f"{group}:{task}", "group": group}


@pytest.mark.parametrize("doc_first", [True, False])
def test_one_document_is_read_once_and_every_answer_kept(doc_first):
    rows = [row("court", "Which court?", "District Court", doc_first=doc_first),
            row("holding", "Disposition?", "REVERSED", doc_first=doc_first),
            row("case_name", "Case name?", "IRONWOOD FOODS v. ACME", doc_first=doc_first)]
    merged = merge_groups(rows, seed=0)
    assert len(merged) == 1
    msgs = merged[0]["messages"]
    assert [m["role"] for m in msgs] == ["system"] + ["user", "assistant"] * 3
    users = [m["content"] for m in msgs if m["role"] == "user"]
    assert DOC in users[0] and all(DOC not in u for u in users[1:])
    # each answer follows its own question
    question = (lambda u: u.split("\n")[-1]) if doc_first else (lambda u: u.split("\n")[0])
    pairs = {question(u): a["content"] for u, a in zip(users, [m for m in msgs if m["role"] == "assistant"])}
    assert pairs == {"Which court?": "District Court", "Disposition?": "REVERSED", "Case name?": "IRONWOOD FOODS v. ACME"}


def test_order_is_seeded_and_varies_across_groups():
    def first_question(seed, group):
        rows = [row(t, f"Q {t}?", t, group=group) for t in ("a", "b", "c", "d", "e", "f")]
        return merge_groups(rows, seed)[0]["messages"][1]["content"].split("\n")[0]

    assert first_question(1, "g1") == first_question(1, "g1")
    assert len({first_question(1, f"g{i}") for i in range(12)}) > 1


def test_rows_that_do_not_share_a_document_pass_through():
    a = row("court", "Which court?", "X")
    b = row("court", "Which court?", "Y", group="op-2")
    c = {**row("holding", "Disposition?", "Z"), "messages": [{"role": "user", "content": "short", "train": None},
                                                           {"role": "assistant", "content": "Z", "train": None}]}
    c["group"] = "op-3"
    d = {**row("holding", "Other?", "W"), "group": "op-3",
         "messages": [{"role": "user", "content": "different", "train": None},
                      {"role": "assistant", "content": "W", "train": None}]}
    out = merge_groups([a, b, c, d], seed=0)
    assert out == [a, b, c, d]
