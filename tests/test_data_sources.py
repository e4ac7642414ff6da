"""Reading records from every kind of source, and the one-line errors for files that cannot be read."""

from __future__ import annotations

from pathlib import Path

import pytest

from sft_recipes.data.sources import DataSourceError, read_records

DATA = Path(__file__).parent / "fixtures" / "data"
ALPACA_INSTRUCTIONS = [
    "Give three tips for staying healthy.",
    "Translate the sentence into French.",
    "What is the capital of Peru?",
]


@pytest.fixture(scope="module")
def alpaca_parquet(tmp_path_factory) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    records = [r.data for r in read_records(str(DATA / "alpaca.jsonl"))]
    path = tmp_path_factory.mktemp("parquet") / "alpaca.parquet"
    pq.write_table(pa.Table.from_pylist(records), path)
    return path


def _lines(records) -> list[int]:
    return [int(r.source.rsplit(":", 1)[1]) for r in records]


@pytest.mark.parametrize(
    "name, lines",
    [
        ("alpaca.json", [2, 7, 12]),  # the line where each object of the array starts
        ("alpaca.jsonl", [1, 2, 4]),  # line 3 is blank
        ("alpaca.csv", [2, 5, 6]),  # the first record's output spans lines 2-4
    ],
)
def test_text_files_keep_the_line_of_each_record(name, lines):
    records = read_records(str(DATA / name))
    assert [r.data["instruction"] for r in records] == ALPACA_INSTRUCTIONS
    assert _lines(records) == lines
    assert all(r.source.startswith(str(DATA / name) + ":") for r in records)


def test_csv_keeps_multiline_fields():
    records = read_records(str(DATA / "alpaca.csv"))
    assert records[0].data["output"].splitlines() == [
        "1. Eat a balanced diet.",
        "2. Exercise regularly.",
        "3. Get enough sleep.",
    ]
    assert records[0].data["input"] == ""


def test_parquet_rows_are_numbered_from_one(alpaca_parquet):
    records = read_records(str(alpaca_parquet))
    assert [r.data["instruction"] for r in records] == ALPACA_INSTRUCTIONS
    assert _lines(records) == [1, 2, 3]


def test_json_file_may_hold_json_lines(tmp_path):
    path = tmp_path / "lines.json"
    path.write_text('{"text": "a"}\n{"text": "b"}\n', encoding="utf-8")
    assert [r.data["text"] for r in read_records(str(path))] == ["a", "b"]


def test_saved_dataset_dict_picks_the_split(tmp_path):
    from datasets import Dataset, DatasetDict

    DatasetDict(
        {
            "train": Dataset.from_list([{"text": "train row"}]),
            "validation": Dataset.from_list([{"text": "held out 1"}, {"text": "held out 2"}]),
        }
    ).save_to_disk(str(tmp_path / "saved"))
    records = read_records(str(tmp_path / "saved"), split="validation")
    assert [r.data["text"] for r in records] == ["held out 1", "held out 2"]
    assert records[1].source == f"{tmp_path / 'saved'}[validation]:2"
    with pytest.raises(DataSourceError, match=r"no split 'test' \(available: train, validation\)"):
        read_records(str(tmp_path / "saved"), split="test")


def test_a_directory_of_data_files_keeps_file_and_line():
    path = DATA / "hub_style"
    records = read_records(str(path), split="train")
    assert [r.data["instruction"] for r in records] == ["Hub-style row one", "Hub-style row two"]
    assert [r.source for r in records] == [f"{path / 'train.jsonl'}:1", f"{path / 'train.jsonl'}:2"]


def test_a_directory_with_a_broken_file_names_the_file_and_line(tmp_path):
    (tmp_path / "a.jsonl").write_text('{"instruction": "x", "output": "y"}\n', encoding="utf-8")
    (tmp_path / "b.jsonl").write_text('{"instruction": "x", "output": "y"}\n{"instruction": "broken\n',
                                      encoding="utf-8")
    with pytest.raises(DataSourceError) as e:
        read_records(str(tmp_path))
    assert str(e.value).startswith(f"{tmp_path / 'b.jsonl'}:2: invalid JSON"), str(e.value)


def test_a_directory_splits_its_files_by_name_as_datasets_does(tmp_path):
    """train*.jsonl is the train split and test*.jsonl the test split (datasets' naming rules); files without a
    split in their name are all train; files in subfolders count."""
    (tmp_path / "train.jsonl").write_text('{"text": "t1"}\n{"text": "t2"}\n', encoding="utf-8")
    (tmp_path / "test.jsonl").write_text('{"text": "held out"}\n', encoding="utf-8")
    assert [r.data["text"] for r in read_records(str(tmp_path), split="train")] == ["t1", "t2"]
    test = read_records(str(tmp_path), split="test")
    assert [(r.data["text"], r.source) for r in test] == [("held out", f"{tmp_path / 'test.jsonl'}:1")]
    with pytest.raises(DataSourceError, match=r"no split 'validation' \(available: train, test\)"):
        read_records(str(tmp_path), split="validation")
    plain = tmp_path / "plain"
    (plain / "part").mkdir(parents=True)
    (plain / "b.csv").write_text("text\nb\n", encoding="utf-8")
    (plain / "part" / "a.jsonl").write_text('{"text": "a"}\n', encoding="utf-8")
    assert [r.source for r in read_records(str(plain))] == [f"{plain / 'b.csv'}:2", f"{plain / 'part' / 'a.jsonl'}:1"]


def test_a_directory_without_data_files_is_one_line_error(tmp_path):
    (tmp_path / "notes.md").write_text("# nothing here", encoding="utf-8")
    with pytest.raises(DataSourceError) as e:
        read_records(str(tmp_path))
    assert str(tmp_path) in str(e.value) and "\n" not in str(e.value)


def test_unknown_hub_dataset_is_one_line_error():
    with pytest.raises(DataSourceError) as e:
        read_records("no-such-owner-xyz/no-such-dataset-xyz")
    assert "no-such-owner-xyz/no-such-dataset-xyz" in str(e.value)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize(
    "name, message",
    [
        ("missing.jsonl", r"data file not found: .*missing\.jsonl$"),
        ("bad_json_line.jsonl", r"bad_json_line\.jsonl:3: invalid JSON \(.+\)$"),
        ("not_utf8.jsonl", r"not_utf8\.jsonl:2: not valid UTF-8"),
        ("empty.jsonl", r"empty\.jsonl: empty file$"),
    ],
)
def test_unreadable_files_fail_with_one_line(name, message):
    with pytest.raises(DataSourceError, match=message) as e:
        read_records(str(DATA / name))
    assert "\n" not in str(e.value)


def test_malformed_json_array_names_the_line(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('[\n  {"text": "a"},\n  {"text": "b"\n  {"text": "c"}\n]\n', encoding="utf-8")
    with pytest.raises(DataSourceError, match=r"broken\.json:4: invalid JSON"):
        read_records(str(path))


def test_non_object_lines_and_ragged_csv_rows_are_errors(tmp_path):
    lines = tmp_path / "list.jsonl"
    lines.write_text('{"text": "a"}\n["not", "an", "object"]\n', encoding="utf-8")
    with pytest.raises(DataSourceError, match=r"list\.jsonl:2: expected a JSON object, got an array"):
        read_records(str(lines))
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("instruction,output\na,b\nc,d,e\n", encoding="utf-8")
    with pytest.raises(DataSourceError, match=r"ragged\.csv:3: row has 3 fields, the header has 2"):
        read_records(str(ragged))


def test_utf8_byte_order_mark_is_accepted(tmp_path):
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"text": "caf\xc3\xa9"}\n')
    assert read_records(str(path))[0].data == {"text": "café"}
