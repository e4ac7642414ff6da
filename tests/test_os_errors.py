"""A full disk, a folder the user may not write and a read-only file system end a run with one line naming the path
and what to do, not a traceback. The real conditions are made with a small tmpfs (full disk), a tmpfs remounted
read-only, and a folder owned by another user, inside user + mount namespaces (``unshare -rm``), so no root and no
change to the machine is needed; the library messages tested in-process below were captured from those runs."""

from __future__ import annotations

import errno
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import lora_cli_args, sums_file

from sft_recipes.runtime.os_errors import explain


def _namespaces_work() -> bool:
    if shutil.which("unshare") is None:
        return False
    try:
        return subprocess.run(["unshare", "-rm", "true"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


needs_namespaces = pytest.mark.skipif(not _namespaces_work(), reason="needs user + mount namespaces (unshare -rm)")


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return sums_file(tmp_path_factory.mktemp("osdata") / "sums.jsonl", rows=8)


cli_args = lora_cli_args


def run_cli(args: list[str], setup: str = "", namespace=("unshare", "-rm")) -> subprocess.CompletedProcess:
    """``sft-recipes ARGS`` in a new process; ``setup`` (shell) runs first, in the same namespaces."""
    command = f"exec {shlex.quote(sys.executable)} -m sft_recipes.cli {shlex.join(args)}"
    script = f"set -e; {setup}; {command}" if setup else command
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    return subprocess.run([*namespace, "sh", "-c", script], capture_output=True, text=True, env=env, timeout=600)


def one_error_line(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, proc.stderr[-3000:]
    return errors[0]


@needs_namespaces
def test_read_only_file_system_stops_before_any_work(tiny_model_dir, data, tmp_path):
    mount = tmp_path / "ro"
    mount.mkdir()
    proc = run_cli(cli_args("train", tiny_model_dir, data, mount / "run", "--max_steps", "2"),
                   setup=f"mount -t tmpfs -o size=1m tmpfs {mount} && mount -o remount,ro {mount}")
    line = one_error_line(proc)
    assert line == f"error: read-only file system: {mount / 'run'}; set output_dir to a writable location", line
    assert "prepared" not in proc.stdout, "stopped before preparing data"


@needs_namespaces
def test_permission_denied_names_the_folder(tiny_model_dir, data, tmp_path):
    """The folder belongs to another user (uid 65534, outside the namespace's mapping: even root inside cannot
    write it). Without namespaces a non-root user would see the same with chmod 555."""
    locked = tmp_path / "theirs"
    locked.mkdir()
    if os.geteuid() == 0:
        os.chown(locked, 65534, 65534)
    locked.chmod(0o755)
    proc = run_cli(cli_args("train", tiny_model_dir, data, locked / "run", "--max_steps", "2"),
                   namespace=["unshare", "-r"])
    line = one_error_line(proc)
    assert line == (f"error: permission denied: {locked / 'run'}; "
                    "set output_dir to a folder you can write to, or fix its permissions"), line


@needs_namespaces
def test_disk_full_while_preparing(tiny_model_dir, data, tmp_path):
    mount = tmp_path / "small"
    mount.mkdir()
    proc = run_cli(cli_args("prepare", tiny_model_dir, data, mount / "run"),
                   setup=f"mount -t tmpfs -o size=256k tmpfs {mount}")
    line = one_error_line(proc)
    assert line.startswith("error: no space left on the device ("), line
    assert f"): {mount / 'run'}" in line and line.endswith("; free some space or set output_dir to a disk with room")


@needs_namespaces
def test_disk_full_during_a_checkpoint_save(tiny_model_dir, data, tmp_path):
    """Data prepared elsewhere; the output folder has room for the run's small files but not for a checkpoint
    (its tokenizer alone is 3.5 MB): the save fails, the line says so and that a rerun resumes."""
    mount = tmp_path / "small"
    mount.mkdir()
    args = cli_args("train", tiny_model_dir, data, mount / "run", "--max_steps", "4", "--save_strategy", "steps",
                    "--save_steps", "2", "--prepared_dir", str(tmp_path / "prepared"))
    proc = run_cli(args, setup=f"mount -t tmpfs -o size=1m tmpfs {mount}")
    line = one_error_line(proc)
    assert line.startswith("error: no space left on the device ("), line
    assert f"): {mount / 'run'}" in line
    assert line.endswith("; free some space or set output_dir to a disk with room; "
                         "rerunning the same command resumes from the last complete checkpoint"), line
    assert "'loss'" in proc.stdout, "it failed at the save, after training steps"


# The messages below are what the libraries raised in the namespaces above (captured once; each library reports an
# OS error its own way).
@pytest.mark.parametrize(
    "exc, code",
    [
        (OSError(errno.ENOSPC, "No space left on device"), errno.ENOSPC),
        (Exception("No space left on device (os error 28)"), errno.ENOSPC),  # tokenizers
        (Exception('Error while serializing: I/O error: Read-only file system (os error 30) at path "/x/.tmpA"'),
         errno.EROFS),  # safetensors
        (RuntimeError("[enforce fail at inline_container.cc:747] . open file failed with strerror: "
                      "Read-only file system"), errno.EROFS),  # torch.save
        (PermissionError(errno.EACCES, "Permission denied", "/data/x.jsonl"), errno.EACCES),
    ],
)
def test_each_library_s_way_of_reporting_an_os_error_is_recognised(exc, code, tmp_path):
    what = {errno.ENOSPC: "no space left on the device", errno.EROFS: "read-only file system",
            errno.EACCES: "permission denied"}[code]
    line = explain(exc, {tmp_path: "output_dir"})
    assert line is not None and line.startswith(what), line


def test_other_errors_are_left_alone(tmp_path):
    assert explain(ValueError("r should be a positive integer"), {tmp_path: "output_dir"}) is None
    # torch's bare write failure on a folder that takes writes fine: not an OS error of ours
    assert explain(RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 576 vs 534"),
                   {tmp_path: "output_dir"}) is None


def test_outside_the_run_folders_the_advice_is_neutral(tmp_path):
    """A data file the user may not read: the line names it, without pointing at a recipe key."""
    exc = PermissionError(errno.EACCES, "Permission denied", str(tmp_path / "x.jsonl"))
    assert explain(exc) == f"permission denied: {tmp_path / 'x.jsonl'}; check the path's permissions"
    assert explain(exc, {tmp_path / "run": "output_dir"}) == \
        f"permission denied: {tmp_path / 'x.jsonl'}; check the path's permissions"
