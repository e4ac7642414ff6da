"""Training runs in child processes that a test can SIGKILL by PID.

Children are forked from a multiprocessing fork server that imports torch, transformers, TRL and sft-recipes once
(``PRELOAD``), so a run starts in a fraction of a second instead of the ~7 s those imports take. Every child runs
``sft-recipes <command> ...`` exactly as the CLI does, with one torch thread, its stdout and stderr appended to a
log file.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import time
from pathlib import Path
from typing import Callable

import torch

# Imported by the fork server before it forks any child. Python 3.11's fork server imports these with its own
# sys.path (not the tests folder), and skips a module it cannot import without a word: only library modules here.
PRELOAD = ["torch", "transformers", "trl", "peft", "datasets", "matplotlib.pyplot", "sft_recipes.cli",
           "sft_recipes.prepare", "sft_recipes.train", "sft_recipes.train.trainer", "sft_recipes.inference.generate"]
POLL_SECONDS = 0.005


def _child(argv: list[str], log: str) -> None:
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    torch.set_num_threads(1)
    from sft_recipes.cli import main

    code = main(argv)
    sys.stdout.flush()
    sys.stderr.flush()
    sys.exit(code)


class Children:
    """Start ``sft-recipes`` commands in forked children; wait for them or kill them at a chosen moment."""

    def __init__(self) -> None:
        self.context = multiprocessing.get_context("forkserver")
        self.context.set_forkserver_preload(PRELOAD)
        self.live: list[multiprocessing.Process] = []

    def start(self, argv: list[str], log: Path) -> multiprocessing.Process:
        process = self.context.Process(target=_child, args=(argv, str(log)), daemon=True)
        process.start()
        self.live.append(process)
        return process

    def run(self, argv: list[str], log: Path, timeout: float = 300) -> int:
        process = self.start(argv, log)
        process.join(timeout)
        if process.is_alive():
            process.kill()
            process.join()
            raise TimeoutError(f"{argv} did not finish in {timeout}s; log: {log.read_text()[-2000:]}")
        return process.exitcode

    def kill_when(self, process: multiprocessing.Process, moment: Callable[[], bool], timeout: float = 300,
                  confirm: Callable[[], bool] | None = None) -> bool:
        """SIGKILL ``process`` by PID as soon as ``moment()`` is true. With ``confirm``, the process is first
        stopped (SIGSTOP) and killed only if ``confirm()`` still holds while it stands still, else resumed: the
        kill then provably lands inside the moment (say, a checkpoint half written). False if it ended first."""
        deadline = time.monotonic() + timeout
        while process.is_alive() and time.monotonic() < deadline:
            if moment():
                if confirm is not None:
                    os.kill(process.pid, signal.SIGSTOP)
                    if not confirm():
                        os.kill(process.pid, signal.SIGCONT)
                        time.sleep(POLL_SECONDS)
                        continue
                os.kill(process.pid, signal.SIGKILL)
                process.join()
                return True
            time.sleep(POLL_SECONDS)
        process.join(1)
        return False

    def close(self) -> None:
        for process in self.live:
            if process.is_alive():
                process.kill()
            process.join()
        self.live.clear()
