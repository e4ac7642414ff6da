"""One run at a time per output directory.

Two runs writing into one output_dir overwrite each other's checkpoints, interleave one metrics.jsonl and swap the
prepared data under each other. A run holds ``<output_dir>/.sft-recipes.lock`` while it works: a filelock
``SoftFileLock``, whose file records the holder's pid and host. A second run refuses at once, in one line naming the
first (pid, host, since when, its command when it runs on this host). A lock left by a run that died (SIGKILL, OOM,
power loss) is stale: on the same host filelock sees that its pid is gone and the next run takes it over, saying so.
A lock held on another host cannot be checked from here; the message says which file to delete if that run is gone.

Under ``accelerate launch`` / torchrun the main process takes the lock for the whole job and tells the other ranks
whether it got it, so every rank stops with the same line.
"""

from __future__ import annotations

import datetime
import os
import socket
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Iterator

from filelock import SoftFileLock, Timeout

from sft_recipes import SFTRecipesError

LOCK_FILE = ".sft-recipes.lock"

_held: dict[str, int] = {}  # lock paths this process holds -> nesting depth (quickstart: prepare inside train)


class RunInUse(SFTRecipesError):
    pass


@contextmanager
def run_lock(output_dir: str | Path, say=print) -> Iterator[None]:
    """Hold the output directory's lock (re-entrant within one process), or raise RunInUse naming the holder
    (RunPathError when the folder cannot be written at all: read-only, no permission)."""
    from sft_recipes.runtime.os_errors import check_writable

    path = Path(output_dir) / LOCK_FILE
    key = str(path.resolve())
    if key in _held:
        _held[key] += 1
        try:
            yield
        finally:
            _held[key] -= 1
        return
    check_writable(output_dir, "output_dir")
    before = _holder(path)
    lock = SoftFileLock(str(path), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise RunInUse(_in_use_message(output_dir, path)) from None
    if before is not None:
        say(f"[sft-recipes] took over the lock of a run that is gone ({before}; {path})")
    _held[key] = 1
    try:
        yield
    finally:
        del _held[key]
        lock.release()


@contextmanager
def run_lock_on_main_process(output_dir: str | Path, say=print) -> Iterator[None]:
    """``run_lock`` for a multi-process job: the main process holds it; every rank raises if it could not."""
    from accelerate import PartialState
    from accelerate.utils import broadcast_object_list

    state = PartialState()
    with ExitStack() as stack:
        refusal = None
        if state.is_main_process:
            try:
                stack.enter_context(run_lock(output_dir, say))
            except SFTRecipesError as e:
                if state.num_processes == 1:
                    raise
                refusal = str(e)
        if state.num_processes > 1:
            refusal = broadcast_object_list([refusal])[0]
        if refusal:
            raise SFTRecipesError(refusal)
        yield


@contextmanager
def waiting_lock(path: str | Path, what: str, say=print) -> Iterator[None]:
    """Wait for (then hold) a lock guarding a shared folder for a short job, e.g. prepared data used by several
    runs. A holder that died is detected as for ``run_lock``."""
    lock = SoftFileLock(str(path), timeout=-1, poll_interval=0.2)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        say(f"[sft-recipes] waiting for {_holder(Path(path)) or 'another process'}, which is {what}")
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


def _holder(path: Path) -> str | None:
    """'pid 123 on host-a' from a lock file, or None when there is none."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    if len(lines) >= 2 and lines[0].isdigit():
        return f"pid {lines[0]} on {lines[1]}"
    return "an unknown process" if path.exists() else None


def _in_use_message(output_dir: str | Path, path: Path) -> str:
    holder = _holder(path) or "another process"
    try:
        since = datetime.datetime.fromtimestamp(path.stat().st_mtime).strftime("%Y-%m-%d %H:%M:%S")
        holder += f", since {since}"
    except OSError:
        pass
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    same_host = len(lines) >= 2 and lines[1] == socket.gethostname()
    if same_host and lines[0].isdigit():
        command = _command_of(int(lines[0]))
        if command:
            holder += f": {command}"
    advice = "wait for it to finish or set another output_dir"
    if not same_host:
        advice += f"; if that run is gone, delete {path}"
    return f"{output_dir} is in use by another run ({holder}); {advice}"


def _command_of(pid: int) -> str | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    args = [a for a in raw.decode(errors="replace").split("\0") if a]
    if not args:
        return None
    if len(args) > 1 and os.path.basename(args[0]).startswith("python"):
        args = args[1:]
    command = " ".join([os.path.basename(args[0]), *args[1:]])
    return command if len(command) <= 160 else command[:157] + "..."
