"""Read raw records from wherever a recipe points, each tagged with where it came from.

A record is a plain dict as stored in the file; ``source`` is ``"<path>:<line>"`` so that a reject or an error
can send the user straight to it. What "line" means depends on the kind of file:

    .jsonl, .json (JSON lines)  the 1-based line of the record in the file
    .json (an array)            the 1-based line where the record's object starts in the file
    .csv                        the 1-based line where the record starts (the header is line 1, so data starts at 2;
                                a quoted field spanning several lines does not shift the next record's number)
    .json (one object)          1 (a CourtListener or Caselaw Access Project download: one opinion or case per
                                file; a REST API page ``{"count", "next", "results": [...]}`` gives its results)
    .parquet                    the 1-based row number (there are no lines in a binary file)
    a directory of such files   each file as above; ``train*`` / ``test*`` file names pick the split, as in datasets
    a folder of .txt documents  ``<folder>/<file>:<line>``; a .txt file is one record (.json files in it as above)
                                ``{"id": <file path in the folder, without .txt>, "text": <the file>}``
    saved dataset dir / Hub     ``<path>[<split>]:<row>``, the 1-based row number in that split

Text files must be UTF-8 (a leading byte-order mark is accepted). Bytes that are not valid UTF-8 stop the run with
``path:LINE: not valid UTF-8`` rather than being replaced: a silently mangled instruction would be trained on.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any, NamedTuple

from sft_recipes import SFTRecipesError, first_line

LOCAL_SUFFIXES = (".json", ".jsonl", ".csv", ".parquet")


class DataSourceError(SFTRecipesError):
    """A data file or dataset that cannot be read at all (as opposed to one bad row, which becomes a reject)."""


class SourceRecord(NamedTuple):
    source: str  # "path:line"
    data: dict[str, Any]


def read_records(path: str, split: str = "train", name: str | None = None) -> list[SourceRecord]:
    """Every record of one dataset: a local file, a saved dataset directory, or a Hub dataset name.

    A path that looks local (a known suffix, or starting with /, ./, ../ or ~) must exist; anything else that is
    not on disk is looked up with ``datasets.load_dataset`` (which also accepts a local directory of data files).
    """
    p = Path(path).expanduser()
    plain_dir = p.is_dir() and not _is_saved_dataset(p)
    documents = _document_files(p) if plain_dir else []
    if p.is_file():
        records = _read_file(p)
    elif p.is_dir() and not plain_dir:
        records = _read_saved_dataset(p, path, split)
    elif any(f.suffix.lower() == ".txt" for f in documents):
        records = _read_folder(p, documents)
    elif plain_dir and (data_files := _data_files_in(p, path, split)) is not None:
        records = [record for file in data_files for record in _read_file(file)]
    elif p.is_dir() or not _looks_local(path):
        records = _read_with_load_dataset(path, name, split)
    else:
        raise DataSourceError(f"data file not found: {path}")
    if not records:
        raise DataSourceError(f"{path}: empty (no records)")
    return records


def _data_files_in(p: Path, path: str, split: str) -> list[Path] | None:
    """The files of ``split`` in a directory of data files, found by ``datasets``' own rules (``train*`` / ``test*``
    names split the files; without such names every file is train), so they can be read here with file:line.
    None when the directory holds other kinds of files: then ``load_dataset`` reads it as it would any dataset."""
    from datasets.data_files import DataFilesDict, EmptyDatasetError, get_data_patterns

    try:
        by_split = DataFilesDict.from_patterns(get_data_patterns(str(p)), base_path=str(p))
    except (EmptyDatasetError, FileNotFoundError):
        expected = ", ".join(LOCAL_SUFFIXES)
        raise DataSourceError(f"{path}: no data files in this directory (expected {expected})") from None
    files = {str(name): sorted(Path(f) for f in found) for name, found in by_split.items()}
    if any(f.suffix.lower() not in LOCAL_SUFFIXES for found in files.values() for f in found):
        return None
    if split not in files:
        raise DataSourceError(f"{path}: no split {split!r} (available: {', '.join(files)})")
    return files[split]


def _looks_local(path: str) -> bool:
    return path.lower().endswith(LOCAL_SUFFIXES) or path.startswith(("/", "./", "../", "~"))


def _read_file(p: Path) -> list[SourceRecord]:
    suffix = p.suffix.lower()
    if suffix == ".parquet":
        return _read_parquet(p)
    if suffix not in (".json", ".jsonl", ".csv"):
        raise DataSourceError(f"{p}: unsupported file type {suffix or '(none)'} (use .json, .jsonl, .csv or .parquet)")
    text = _read_utf8(p)
    if not text.strip():
        raise DataSourceError(f"{p}: empty file")
    if suffix == ".csv":
        return _read_csv(p, text)
    if suffix == ".json" and text.lstrip().startswith("["):
        return _read_json_array(p, text)
    if suffix == ".json" and text.lstrip().startswith("{"):
        single = _read_json_object(p, text)
        if single is not None:
            return single
    return _read_json_lines(p, text)


def _read_json_object(p: Path, text: str) -> list[SourceRecord] | None:
    """A file holding one JSON object (None when it holds JSON lines): the object, or a REST API page's results."""
    try:
        obj = json.loads(text)
    except json.JSONDecodeError:
        return None
    results = obj.get("results")
    if isinstance(results, list) and "next" in obj and all(isinstance(r, dict) for r in results):
        return [SourceRecord(f"{p}:1", r) for r in results]
    return [SourceRecord(f"{p}:1", obj)]


DOCUMENT_SUFFIXES = (".txt", ".json")
_DATA_SUFFIXES = (".jsonl", ".csv", ".parquet", ".arrow")


def _document_files(p: Path) -> list[Path]:
    """The .txt / .json files of a folder of documents (one opinion per file), or [] for a folder that holds data
    files of other kinds (.jsonl, .csv, .parquet: read by ``datasets.load_dataset`` with its split naming)."""
    files = sorted(f for f in p.rglob("*") if f.is_file() and not f.name.startswith("."))
    if any(f.suffix.lower() in _DATA_SUFFIXES for f in files):
        return []
    return [f for f in files if f.suffix.lower() in DOCUMENT_SUFFIXES]


def _read_folder(p: Path, files: list[Path]) -> list[SourceRecord]:
    records = []
    for f in files:
        if f.suffix.lower() == ".txt":
            records.append(SourceRecord(f"{f}:1", {"id": str(f.relative_to(p).with_suffix("")), "text": _read_utf8(f)}))
        else:
            records.extend(_read_file(f))
    return records


def _read_utf8(p: Path) -> str:
    raw = p.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        byte = raw[e.start]
        raise DataSourceError(f"{p}:{line}: not valid UTF-8 (byte 0x{byte:02x}); re-save the file as UTF-8") from None
    return text.removeprefix("\ufeff")


def _read_json_lines(p: Path, text: str) -> list[SourceRecord]:
    records = []
    loads = json.loads
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = loads(line)
        except json.JSONDecodeError as e:
            raise DataSourceError(f"{p}:{number}: invalid JSON ({e.msg} at column {e.colno})") from None
        if not isinstance(obj, dict):
            raise DataSourceError(f"{p}:{number}: expected a JSON object, got {_json_type(obj)}")
        records.append(SourceRecord(f"{p}:{number}", obj))
    return records


def _read_json_array(p: Path, text: str) -> list[SourceRecord]:
    """Decode the array element by element so each record knows the line it starts on."""
    decoder = json.JSONDecoder()
    records = []
    pos = text.index("[") + 1
    line, counted_to = 1, 0

    def skip_space(i: int) -> int:
        while i < len(text) and text[i] in " \t\r\n":
            i += 1
        return i

    def fail(i: int, msg: str) -> DataSourceError:
        return DataSourceError(f"{p}:{text.count(chr(10), 0, i) + 1}: invalid JSON ({msg})")

    pos = skip_space(pos)
    if pos < len(text) and text[pos] == "]":
        return []
    while True:
        pos = skip_space(pos)
        try:
            obj, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as e:
            raise fail(e.pos, e.msg) from None
        line += text.count("\n", counted_to, pos)
        counted_to = pos
        if not isinstance(obj, dict):
            raise DataSourceError(f"{p}:{line}: expected a JSON object in the array, got {_json_type(obj)}")
        records.append(SourceRecord(f"{p}:{line}", obj))
        pos = skip_space(end)
        if pos < len(text) and text[pos] == ",":
            pos += 1
        elif pos < len(text) and text[pos] == "]":
            break
        else:
            raise fail(pos, "expected ',' or ']' after a record")
    if text[pos + 1 :].strip():
        raise fail(pos + 1, "extra data after the array")
    return records


def _read_csv(p: Path, text: str) -> list[SourceRecord]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except csv.Error as e:
        raise DataSourceError(f"{p}:1: invalid CSV ({e})") from None
    records = []
    start = reader.line_num + 1
    try:
        for values in reader:
            if not values:  # a blank line
                start = reader.line_num + 1
                continue
            if len(values) != len(header):
                raise DataSourceError(f"{p}:{start}: row has {len(values)} fields, the header has {len(header)}")
            records.append(SourceRecord(f"{p}:{start}", dict(zip(header, values))))
            start = reader.line_num + 1
    except csv.Error as e:
        raise DataSourceError(f"{p}:{start}: invalid CSV ({e})") from None
    return records


def _read_parquet(p: Path) -> list[SourceRecord]:
    import pyarrow.parquet as pq

    try:
        rows = pq.read_table(p).to_pylist()
    except Exception as e:  # pyarrow raises several types for a corrupt file
        raise DataSourceError(f"{p}: not a readable Parquet file ({first_line(e)})") from None
    return [SourceRecord(f"{p}:{i}", row) for i, row in enumerate(rows, start=1)]


def _is_saved_dataset(p: Path) -> bool:
    return any((p / marker).is_file() for marker in ("dataset_dict.json", "state.json", "dataset_info.json"))


def _read_saved_dataset(p: Path, path: str, split: str) -> list[SourceRecord]:
    from datasets import DatasetDict, load_from_disk

    try:
        ds = load_from_disk(str(p))
    except Exception as e:
        raise DataSourceError(f"{path}: not a readable saved dataset ({first_line(e)})") from None
    if isinstance(ds, DatasetDict):
        if split not in ds:
            raise DataSourceError(f"{path}: no split {split!r} (available: {', '.join(ds)})")
        ds = ds[split]
    return _dataset_records(ds, path, split)


def _read_with_load_dataset(path: str, name: str | None, split: str) -> list[SourceRecord]:
    from datasets import load_dataset

    try:
        ds = load_dataset(path, name, split=split)
    except Exception as e:  # the Hub client raises many types (not found, offline, gated, bad split): one line each
        raise DataSourceError(f"dataset {path!r}: could not load split {split!r} ({first_line(e)})") from None
    return _dataset_records(ds, path, split)


def _dataset_records(ds: Any, path: str, split: str) -> list[SourceRecord]:
    return [SourceRecord(f"{path}[{split}]:{i}", row) for i, row in enumerate(ds.to_list(), start=1)]


def _json_type(obj: Any) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(type(obj), "a number")

