"""Every input format becomes the same conversation rows; bad rows become rejects with a reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from sft_recipes.recipe import DataArguments
from sft_recipes.data.formats import convert_records, detect_format
from sft_recipes.data.load import load_conversations
from sft_recipes.data.sources import DataSourceError, read_records

DATA = Path(__file__).parent / "fixtures" / "data"


def convert(name: str, fmt: str = "auto", columns: dict | None = None):
    return convert_records(read_records(str(DATA / name)), fmt, columns, name=name)


def turns(row) -> list[tuple[str, str]]:
    return [(m["role"], m["content"]) for m in row["messages"]]


def test_alpaca_puts_the_input_under_an_input_heading():
    result = convert("alpaca.jsonl")
    assert result.format == "alpaca"
    assert [turns(r) for r in result.rows] == [
        [("user", "Give three tips for staying healthy."),
         ("assistant", "1. Eat a balanced diet.\n2. Exercise regularly.\n3. Get enough sleep.")],
        [("user", "Translate the sentence into French.\n\nInput:\nThe cat sleeps on the mat."),
         ("assistant", "Le chat dort sur le tapis.")],
        [("user", "What is the capital of Peru?"), ("assistant", "Lima.")],
    ]
    assert all(m["train"] is None for r in result.rows for m in r["messages"])
    assert [r["source"] for r in result.rows] == [f"{DATA / 'alpaca.jsonl'}:{n}" for n in (1, 2, 4)]
    assert [r["group"] for r in result.rows] == [r["id"] for r in result.rows]


def test_alpaca_reads_the_same_from_json_jsonl_and_csv(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    parquet = tmp_path / "alpaca.parquet"
    pq.write_table(pa.Table.from_pylist([r.data for r in read_records(str(DATA / "alpaca.json"))]), parquet)
    expected = [turns(r) for r in convert("alpaca.jsonl").rows]
    for name in ("alpaca.json", "alpaca.csv"):
        assert [turns(r) for r in convert(name).rows] == expected, name
    assert [turns(r) for r in convert_records(read_records(str(parquet))).rows] == expected


def test_sharegpt_maps_speakers_to_roles():
    result = convert("sharegpt.json")
    assert result.format == "sharegpt"
    assert [turns(r) for r in result.rows] == [
        [("system", "You are a terse assistant."), ("user", "Name a prime number."), ("assistant", "7"),
         ("user", "Another one?"), ("assistant", "11")],
        [("user", "Say hello."), ("assistant", "Hello.")],
    ]
    assert [r["id"] for r in result.rows] == ["sg-1", "sg-2"]


def test_messages_keep_per_message_train_flags():
    result = convert("messages.jsonl")
    assert result.format == "messages"
    second = result.rows[1]["messages"]
    assert [m["role"] for m in second] == ["system", "user", "assistant", "user", "assistant"]
    assert [m["train"] for m in second] == [None, None, False, None, True]


def test_prompt_completion_accepts_strings_and_message_lists():
    result = convert("prompt_completion.jsonl")
    assert result.format == "prompt_completion"
    assert [turns(r) for r in result.rows] == [
        [("user", "Complete: The quick brown fox"), ("assistant", " jumps over the lazy dog.")],
        [("system", "Be brief."), ("user", "Largest ocean?"), ("assistant", "The Pacific.")],
    ]


def test_text_is_one_fully_trained_assistant_turn():
    result = convert("text.jsonl")
    assert result.format == "text"
    first = result.rows[0]["messages"]
    assert first == [
        {
            "role": "assistant",
            "content": "The court of appeals reviews questions of law de novo.\nFindings of fact are reviewed for "
            "clear error.",
            "train": True,
        }
    ]


def test_column_mapping_renames_the_files_fields():
    result = convert("qa_columns.jsonl", columns={"instruction": "question", "input": "context", "output": "answer"})
    assert result.format == "alpaca"
    assert [turns(r) for r in result.rows] == [
        [("user", "What is the boiling point of water at sea level?\n\nInput:\nIn degrees Celsius."),
         ("assistant", "100 degrees Celsius.")],
        [("user", "Who wrote Hamlet?"), ("assistant", "William Shakespeare.")],
    ]


def test_column_mapping_to_a_field_the_file_lacks_is_an_error():
    with pytest.raises(DataSourceError, match=r"columns maps 'output' to 'reply', but the data has no field 'reply'"):
        convert("qa_columns.jsonl", columns={"instruction": "question", "output": "reply"})


def test_reject_reason_names_the_mapped_column(tmp_path):
    path = tmp_path / "qa.jsonl"
    path.write_text('{"question": "q1", "answer": "a1"}\n{"question": "q2"}\n', encoding="utf-8")
    result = convert_records(read_records(str(path)), columns={"instruction": "question", "output": "answer"})
    assert [r.reason for r in result.rejects] == ["missing field 'output' (column 'answer')"]


@pytest.mark.parametrize(
    "fields, expected",
    [
        ({"instruction", "input", "output"}, "alpaca"),
        ({"conversations", "id"}, "sharegpt"),
        ({"messages"}, "messages"),
        ({"prompt", "completion"}, "prompt_completion"),
        ({"text", "meta"}, "text"),
        ({"id", "case_name", "court", "text", "citations"}, "court_opinions"),
    ],
)
def test_detect_format_from_fields(fields, expected):
    assert detect_format(fields) == expected


def test_unrecognised_file_is_an_error_naming_its_fields():
    with pytest.raises(DataSourceError, match=r"cannot tell the format from the fields \['bar', 'foo'\]"):
        convert("unknown_format.jsonl")


def test_explicit_format_overrides_detection():
    # messages.jsonl has "id" and "messages"; forcing alpaca rejects every row instead of guessing
    result = convert("messages.jsonl", fmt="alpaca")
    assert result.format == "alpaca" and not result.rows
    assert [r.reason for r in result.rejects] == ["missing field 'instruction'"] * 2


def test_bad_alpaca_rows_become_rejects_with_reasons_and_sources():
    result = convert("bad_rows_alpaca.jsonl")
    assert [turns(r) for r in result.rows] == [[("user", "Good row"), ("assistant", "Kept.")]]
    path = DATA / "bad_rows_alpaca.jsonl"
    assert [(r.reason, r.source) for r in result.rejects] == [
        ("missing field 'output'", f"{path}:2"),
        ("field 'output' is not a string (int)", f"{path}:3"),
        ("empty output", f"{path}:4"),
    ]
    assert result.rejects[1].row == {"instruction": "Numeric output", "output": 42}


def test_bad_sharegpt_rows_become_rejects():
    result = convert("bad_rows_sharegpt.json")
    assert len(result.rows) == 1
    assert [r.reason for r in result.rejects] == [
        "unknown role 'narrator'",
        "content is not a string (int) in message 1",
    ]


def test_messages_without_an_assistant_turn_or_with_unknown_roles_are_rejected(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text(
        '{"messages": [{"role": "user", "content": "hi"}]}\n'
        '{"messages": [{"role": "narrator", "content": "x"}, {"role": "assistant", "content": "y"}]}\n'
        '{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b", "train": "yes"}]}\n',
        encoding="utf-8",
    )
    result = convert_records(read_records(str(path)))
    assert [r.reason for r in result.rejects] == [
        "no assistant message",
        "unknown role 'narrator'",
        "'train' is not a boolean (str) in message 2",
    ]


def test_system_prompts_dataset_first_then_recipe_and_existing_ones_kept():
    args = DataArguments(
        datasets=[
            {"path": str(DATA / "alpaca.jsonl"), "system_prompt": "Dataset prompt."},
            {"path": str(DATA / "sharegpt.json")},
        ],
        system_prompt="Recipe prompt.",
    )
    rows = load_conversations(args, seed=0, show=False).rows
    systems = [r["messages"][0]["content"] if r["messages"][0]["role"] == "system" else None for r in rows]
    assert systems == ["Dataset prompt."] * 3 + ["You are a terse assistant.", "Recipe prompt."]
    assert all(sum(m["role"] == "system" for m in r["messages"]) == 1 for r in rows)


def test_max_samples_keeps_a_seeded_subset_in_file_order():
    args = DataArguments(datasets=[{"path": str(DATA / "alpaca.jsonl"), "max_samples": 2}])
    first = load_conversations(args, seed=4, show=False)
    again = load_conversations(args, seed=4, show=False)
    sources = [r["source"] for r in first.rows]
    assert len(sources) == 2 and sources == sorted(sources, key=lambda s: int(s.rsplit(":", 1)[1]))
    assert sources == [r["source"] for r in again.rows]
    assert first.counts[str(DATA / "alpaca.jsonl")]["read"] == 2


def test_no_usable_rows_at_all_is_an_error_with_the_reasons():
    args = DataArguments(datasets=[{"path": str(DATA / "messages.jsonl"), "format": "alpaca"}])
    with pytest.raises(DataSourceError, match=r"no usable rows in any dataset \(missing field 'instruction': 2\)"):
        load_conversations(args, seed=0, show=False)


def test_a_registered_task_format_is_detected_and_built_with_the_recipe_options():
    from sft_recipes.data.sources import SourceRecord
    from sft_recipes.tasks.registry import TaskFamily, TaskFormat, register, unregister

    def build(record, source, options):
        prompt = getattr(options, "system_prompt", None) or "Define the term."
        return [{"messages": [{"role": "system", "content": prompt}, {"role": "user", "content": record["term"]},
                              {"role": "assistant", "content": record["gloss"]}],
                 "source": source, "task": "gloss", "id": record["term"], "group": record["term"]}], []

    glossary = TaskFormat("glossary", lambda fields: {"term", "gloss"} <= fields, build, "a glossary entry")
    records = [SourceRecord("g.jsonl:1", {"term": "stare decisis", "gloss": "standing by decided cases"})]
    with pytest.raises(DataSourceError, match="or a court opinion; set format"):
        convert_records(records, name="g.jsonl")  # not registered yet: nothing fits
    register(TaskFamily("glossary", {"gloss": "token_f1"}, lambda *a: None, glossary))
    try:
        with pytest.raises(DataSourceError, match="or a court opinion or a glossary entry; set format"):
            detect_format({"zzz"})
        result = convert_records(records, name="g.jsonl", task_options=DataArguments(system_prompt="Be terse."))
        assert result.format == "glossary"
        assert [m["content"] for m in result.rows[0]["messages"]] == [
            "Be terse.", "stare decisis", "standing by decided cases"]
    finally:
        unregister("glossary")
