"""A full disk, a missing permission or a read-only file system as one line: what happened, where, what to do.

The libraries that write a run's files report these failures in their own ways: ``OSError`` with an errno and
often the path (Python, datasets), "No space left on device (os error 28)" in a plain Exception (tokenizers,
safetensors), or a bare "[enforce fail at inline_container.cc] unexpected pos" (torch.save, which drops the OS
error). ``explain`` recognises each; for torch's, it writes a small probe file where the run writes to find out
what the file system refuses. Anything else is not an OS error on the run's paths and is left alone.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sft_recipes import SFTRecipesError

# errno -> (what happened, what to do when a recipe key names the path, what to do otherwise)
ADVICE = {
    errno.ENOSPC: ("no space left on the device", "free some space or set {key} to a disk with room",
                   "free some space on that disk"),
    errno.EDQUOT: ("disk quota exceeded", "free some space or set {key} to a disk with room",
                   "free some space within your quota"),
    errno.EROFS: ("read-only file system", "set {key} to a writable location", "use a writable location"),
    errno.EACCES: ("permission denied", "set {key} to a folder you can write to, or fix its permissions",
                   "check the path's permissions"),
    errno.EPERM: ("operation not permitted", "set {key} to a folder you can write to, or fix its permissions",
                  "check the path's permissions"),
}
_STRERRORS = {os.strerror(code): code for code in ADVICE}
_OS_ERROR_CODE = re.compile(r"os error (\d+)")
PROBE_BYTES = 1 << 16


class RunPathError(SFTRecipesError):
    pass


def error_code(exc: BaseException) -> int | None:
    """The errno behind ``exc``, when it says which."""
    for e in _chain(exc):
        if isinstance(e, OSError) and e.errno in ADVICE:
            return e.errno
        text = str(e)
        match = _OS_ERROR_CODE.search(text)
        if match and int(match.group(1)) in ADVICE:
            return int(match.group(1))
        for message, code in _STRERRORS.items():
            if message in text:
                return code
    return None


def explain(exc: BaseException, paths: dict[Path, str] | None = None, note: str = "") -> str | None:
    """One line for an OS error met while writing under ``paths`` (folder -> the recipe key that chose it);
    None when ``exc`` is not one."""
    paths = {Path(p): key for p, key in (paths or {}).items()}
    code, where = error_code(exc), _filename(exc)
    if code is None and _is_torch_write_failure(exc):
        code, where = probe(tuple(paths))
    if code is None:
        return None
    where = where or (str(next(iter(paths))) if paths else "")
    key = _key_for(where, paths)
    what, keyed, plain = ADVICE[code]
    advice = keyed.format(key=key) if key else plain
    if code in (errno.ENOSPC, errno.EDQUOT) and where:
        what += f" ({_free_space(where)} free)"
    line = f"{what}: {where}" if where else what
    return f"{line}; {advice}" + (f"; {note}" if note else "")


def probe(paths: tuple[Path, ...]) -> tuple[int | None, str | None]:
    """Write (and remove) a small file in each existing folder of ``paths``: the first refusal's errno and folder."""
    for path in paths:
        folder = _existing_folder(Path(path))
        if folder is None:
            continue
        try:
            with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-probe-") as f:
                f.write(b"\0" * PROBE_BYTES)
                f.flush()
                os.fsync(f.fileno())
        except OSError as e:
            if e.errno in ADVICE:
                return e.errno, str(path)
    return None, None


def check_writable(path: str | Path, key: str) -> None:
    """Create ``path`` and write a probe file in it, so a read-only or forbidden folder stops the run before any
    work rather than at its first save."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-probe-"):
            pass
    except OSError as e:
        line = explain(e, {path: key})
        if line is None:
            raise
        raise RunPathError(line) from None


@contextmanager
def one_line_os_errors(paths: dict[str | Path, str], note: str = "") -> Iterator[None]:
    """Turn an OS error raised inside into a RunPathError line (``paths``: folder -> the recipe key that chose it);
    everything else passes through untouched."""
    try:
        yield
    except SFTRecipesError:
        raise
    except Exception as e:
        line = explain(e, {Path(p): key for p, key in paths.items()}, note)
        if line is None:
            raise
        raise RunPathError(line) from None


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def _filename(exc: BaseException) -> str | None:
    for e in _chain(exc):
        name = getattr(e, "filename", None)
        if name:
            return str(name)
    return None


def _is_torch_write_failure(exc: BaseException) -> bool:
    return any("inline_container.cc" in str(e) or "file write failed" in str(e) for e in _chain(exc))


def _key_for(where: str, paths: dict[Path, str]) -> str | None:
    """The recipe key of the deepest folder in ``paths`` that holds ``where``."""
    target = Path(where).absolute()
    holders = [p for p in paths if target == p.absolute() or p.absolute() in target.parents]
    return paths[max(holders, key=lambda p: len(p.absolute().parts))] if holders else None


def _existing_folder(path: Path) -> Path | None:
    for candidate in (path, *path.parents):
        if candidate.is_dir():
            return candidate
    return None


def _free_space(where: str) -> str:
    folder = _existing_folder(Path(where))
    if folder is None:
        return "unknown"
    size, unit = float(shutil.disk_usage(folder).free), "bytes"
    for bigger in ("KB", "MB", "GB", "TB"):
        if size < 1024:
            break
        size, unit = size / 1024, bigger
    return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
