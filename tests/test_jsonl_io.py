"""JSON Lines through one module: written atomically, appended, read back with file:line errors."""

import pytest

from sft_recipes import SFTRecipesError
from sft_recipes.data.jsonl import append_jsonl, iter_jsonl, write_jsonl


def test_written_rows_read_back_in_order(tmp_path):
    rows = [{"text": "é ü"}, {"n": 2}, [1, 2]]
    path = write_jsonl(tmp_path / "sub" / "rows.jsonl", rows)
    assert [row for _, row in iter_jsonl(path)] == rows
    assert "é ü" in path.read_text(encoding="utf-8")  # kept readable, not escaped
    append_jsonl(path, {"n": 3})
    assert [n for n, _ in iter_jsonl(path)] == [1, 2, 3, 4]


def test_a_failed_write_keeps_the_old_file(tmp_path):
    path = write_jsonl(tmp_path / "rows.jsonl", [{"old": 1}])

    def rows():
        yield {"new": 1}
        raise RuntimeError("disk went away")

    with pytest.raises(RuntimeError):
        write_jsonl(path, rows())
    assert [row for _, row in iter_jsonl(path)] == [{"old": 1}]
    assert [p.name for p in tmp_path.iterdir()] == ["rows.jsonl"]  # no temporary file left behind


def test_a_bad_line_is_named(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"a": 1}\n\n{"a": \n', encoding="utf-8")
    with pytest.raises(SFTRecipesError, match=r"bad.jsonl:3: not valid JSON"):
        list(iter_jsonl(path))
