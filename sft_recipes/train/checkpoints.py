"""Checkpoint folders that are either complete or absent, and finding the newest complete one.

transformers writes a checkpoint file by file straight into ``output_dir/checkpoint-N``; a run killed during the
save leaves a ``checkpoint-N`` that looks like the newest one, and every rerun stops on it ("Can't find a valid
checkpoint", ``SafetensorError: header too small``). Here a checkpoint is written into ``STAGING/checkpoint-N`` and
renamed to ``checkpoint-N`` once every process has finished writing it (see ``resume.py``), so a kill leaves only a
folder under ``STAGING``, removed by the next run. A checkpoint damaged some other way (a disk that filled up, an
older version's interrupted save) is recognised by ``checkpoint_problem`` and skipped, with the reason, when resuming.
"""

from __future__ import annotations

import json
import re
import shutil
import zipfile
from pathlib import Path

STAGING = ".checkpoint-staging"  # not matched by transformers' ``checkpoint-*`` globs
TRAINER_STATE = "trainer_state.json"
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


def checkpoints_newest_first(output_dir: Path) -> list[Path]:
    if not Path(output_dir).is_dir():
        return []
    found = [(int(m.group(1)), p) for p in Path(output_dir).iterdir()
             if (m := _CHECKPOINT.match(p.name)) and p.is_dir()]
    return [p for _, p in sorted(found, reverse=True)]


def latest_complete_checkpoint(output_dir: Path) -> tuple[Path | None, list[tuple[Path, str]]]:
    """The newest checkpoint without a problem, and the newer ones skipped with what is wrong with each."""
    skipped: list[tuple[Path, str]] = []
    for path in checkpoints_newest_first(output_dir):
        problem = checkpoint_problem(path)
        if problem is None:
            return path, skipped
        skipped.append((path, problem))
    return None, skipped


def checkpoint_problem(path: Path) -> str | None:
    """What makes a checkpoint folder unusable for resuming (None: nothing found). Cheap: headers and sizes,
    zip directories and JSON, not the tensors themselves."""
    path = Path(path)
    if not (path / TRAINER_STATE).is_file():
        return f"no {TRAINER_STATE} (its save did not finish)"
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        problem = _file_problem(file)
        if problem:
            return f"{file.relative_to(path)} {problem}"
    return None


def _file_problem(file: Path) -> str | None:
    suffix = file.suffix.lower()
    try:
        if suffix == ".safetensors":
            return _safetensors_problem(file)
        if suffix in (".pt", ".pth", ".bin"):  # torch.save writes zip archives; a cut one has no directory
            if not zipfile.is_zipfile(file):
                return "is cut short or corrupt (not a complete torch archive)"
            with zipfile.ZipFile(file) as archive:
                archive.namelist()
        elif suffix == ".json":
            json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError, zipfile.BadZipFile) as e:
        return f"cannot be read ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})"
    return None


def _safetensors_problem(file: Path) -> str | None:
    size = file.stat().st_size
    with file.open("rb") as f:
        head = f.read(8)
        if len(head) < 8:
            return f"is cut short ({size} bytes, not even a header)"
        header_size = int.from_bytes(head, "little")
        if 8 + header_size > size:
            return f"is cut short ({size} bytes, its header alone needs {8 + header_size})"
        header = json.loads(f.read(header_size))
    end = max((t["data_offsets"][1] for name, t in header.items() if name != "__metadata__"), default=0)
    if 8 + header_size + end != size:
        return f"is cut short or padded ({size} bytes, its header describes {8 + header_size + end})"
    return None


def publish(staged: Path, final: Path) -> None:
    """Rename a fully written checkpoint to its final name, replacing a folder already there (a broken checkpoint
    of the same step that was skipped, or one a resume from an earlier step is now redoing)."""
    if not staged.exists() and final.exists():
        return  # another node's main process, saving to the same shared folder, renamed it first
    if final.exists():
        replaced = staged.parent / f"replaced-{final.name}"
        shutil.rmtree(replaced, ignore_errors=True)
        final.rename(replaced)
        staged.rename(final)
        shutil.rmtree(replaced, ignore_errors=True)
    else:
        staged.rename(final)
    try:
        staged.parent.rmdir()  # the staging folder, when nothing else is being written there
    except OSError:
        pass


def clear_staging(output_dir: Path) -> list[str]:
    """Remove what interrupted saves left under STAGING; the names of the checkpoints they were writing."""
    staging = Path(output_dir) / STAGING
    if not staging.is_dir():
        return []
    unfinished = sorted(p.name for p in staging.iterdir() if _CHECKPOINT.match(p.name))
    shutil.rmtree(staging, ignore_errors=True)
    return unfinished
