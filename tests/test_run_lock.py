"""One run per output_dir: a second run refuses in one line naming the first; a lock left by a run that died is
taken over; prepares sharing one prepared_dir do not trip over each other's temporary folders."""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path

import pytest

from helpers import lora_cli_args, sums_file

from sft_recipes.cli import main as cli_main

LOCK = ".sft-recipes.lock"


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return sums_file(tmp_path_factory.mktemp("lockdata") / "sums.jsonl")


def argv(command, tiny_model_dir, data, out, *extra):
    return lora_cli_args(command, tiny_model_dir, data, out, "--save_strategy", "no", *extra)


def dead_pid() -> int:
    finished = subprocess.Popen(["true"])
    finished.wait()
    return finished.pid


def test_a_second_run_into_the_same_output_dir_refuses_naming_the_first(children, tiny_model_dir, data, tmp_path,
                                                                        capsys):
    out = tmp_path / "run"
    first = children.start(argv("train", tiny_model_dir, data, out, "--max_steps", "100000"), tmp_path / "first.log")
    try:
        _wait_for(lambda: (out / "metrics.jsonl").is_file() and (out / "metrics.jsonl").read_text().strip(),
                  first, tmp_path / "first.log")
        rows_before = (out / "metrics.jsonl").read_text().count("\n")
        for command in ("train", "prepare"):
            assert cli_main(argv(command, tiny_model_dir, data, out, "--max_steps", "2")) == 1
            err = capsys.readouterr().err.strip()
            assert len(err.splitlines()) == 1, err
            assert err.startswith(f"error: {out} is in use by another run (pid {first.pid} on {socket.gethostname()}"), err
            assert "wait for it to finish or set another output_dir" in err
        assert first.is_alive(), "the first run goes on"
        assert (out / "metrics.jsonl").read_text().count("\n") >= rows_before, "the second run did not touch it"
    finally:
        first.kill()
        first.join()


def test_a_lock_left_by_a_run_that_died_is_taken_over(tiny_model_dir, data, tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    pid = dead_pid()
    (out / LOCK).write_text(f"{pid}\n{socket.gethostname()}\n")
    assert cli_main(argv("train", tiny_model_dir, data, out, "--max_steps", "1")) == 0
    said = capsys.readouterr().out
    assert f"took over the lock of a run that is gone (pid {pid} on {socket.gethostname()}" in said
    assert not (out / LOCK).exists(), "released when the run ends"


def test_a_lock_held_on_another_host_is_refused_with_what_to_do(tiny_model_dir, data, tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / LOCK).write_text("12345\nother-host.example\n")
    assert cli_main(argv("train", tiny_model_dir, data, out, "--max_steps", "1")) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {out} is in use by another run (pid 12345 on other-host.example"), err
    assert f"if that run is gone, delete {out / LOCK}" in err and len(err.splitlines()) == 1


def test_prepares_sharing_a_prepared_dir_run_side_by_side(children, tiny_model_dir, tmp_path):
    """Two runs (own output_dirs) preparing into one prepared_dir at the same moment: each succeeds, the prepared
    data is whole, and no temporary folder is left."""
    shared = tmp_path / "prepared"
    extra = ["--prepared_dir", str(shared), "--datasets", json.dumps([{"path": "embedded:court-opinions"}]),
             "--synthetic_opinions", "60", "--validation_size", "0.1", "--test_size", "0.1"]
    runs = [children.start(["prepare", "--model_name_or_path", str(tiny_model_dir), "--output_dir",
                            str(tmp_path / f"run{i}"), *extra], tmp_path / f"prepare{i}.log") for i in range(2)]
    for i, run in enumerate(runs):
        run.join(300)
        assert run.exitcode == 0, (tmp_path / f"prepare{i}.log").read_text()[-3000:]
    from sft_recipes.prepare import load_prepared

    prepared = load_prepared(shared)
    assert len(prepared.dataset["train"]) > 0
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("prepared")) == ["prepared"]


def _wait_for(condition, process, log: Path, timeout: float = 300) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        assert process.is_alive(), log.read_text()[-3000:]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_the_lock_is_reentrant_within_a_process_and_released_at_the_end(tmp_path):
    from sft_recipes.runtime.run_lock import run_lock

    with run_lock(tmp_path):
        with run_lock(tmp_path):  # quickstart holds it, then train() takes it again
            assert (tmp_path / LOCK).is_file()
        assert (tmp_path / LOCK).is_file()
    assert not (tmp_path / LOCK).exists()


def test_quickstart_refuses_an_output_dir_in_use(tmp_path):
    """The quickstart holds the run directory for its whole flow (prepare, train, eval, export)."""
    import sys

    from sft_recipes.quickstart import run_quickstart
    from sft_recipes.runtime.run_lock import RunInUse

    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom sft_recipes.runtime.run_lock import run_lock\n"
         "with run_lock(sys.argv[1]):\n    print('held', flush=True)\n    time.sleep(120)\n", str(tmp_path)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(RunInUse, match=rf"is in use by another run \(pid {holder.pid} on "):
            run_quickstart(overrides=["--output_dir", str(tmp_path)])
        assert not (tmp_path / "data").exists(), "nothing was prepared into the run directory in use"
    finally:
        holder.kill()
        holder.wait()
