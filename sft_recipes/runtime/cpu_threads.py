"""Too many busy threads for the CPU cores: detect it and say how to fix it, once.

torch runs a CPU step on as many threads as there are cores. When other processes keep some of those cores busy,
torch's threads wait on each other at every parallel region: measured on a loaded 2-core machine, a LoRA step of the
embedded model took 61 s with the default threads and 7 s with one. Before training starts this module counts the
threads of other processes that are running or waiting for a CPU (Linux: state R in /proc, sampled a few times) and,
when they plus this run's torch threads outnumber the cores, prints one warning with the OMP_NUM_THREADS to use.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

SAMPLES = 5
SAMPLE_SECONDS = 0.05
_checked = False  # once per process: the check samples for a quarter of a second


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def busy_threads_elsewhere(proc: Path = Path("/proc")) -> float:
    """Threads of other processes running or runnable, averaged over a few samples (0 where /proc is missing)."""
    if not (proc / "self" / "task").is_dir():
        return 0.0
    own = str(os.getpid())
    counts = []
    for i in range(SAMPLES):
        if i:
            time.sleep(SAMPLE_SECONDS)
        busy = 0
        for stat in proc.glob("[0-9]*/task/*/stat"):
            if stat.parts[-4] == own:
                continue
            try:
                text = stat.read_text()
            except OSError:  # the thread ended meanwhile
                continue
            if text[text.rfind(")") + 2 : text.rfind(")") + 3] == "R":
                busy += 1
        counts.append(busy)
    return sum(counts) / len(counts)


def oversubscription(cores: int | None = None, torch_threads: int | None = None, processes: int | None = None,
                     busy: float | None = None) -> str | None:
    """The warning to print, or None when the threads fit the cores (or this run already uses one thread each)."""
    import torch

    cores = cores or usable_cores()
    torch_threads = torch_threads or torch.get_num_threads()
    processes = processes or int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    if torch_threads <= 1:
        return None
    busy = busy_threads_elsewhere() if busy is None else busy
    others = round(busy)
    if others + torch_threads * processes <= cores:
        return None
    fit = max(1, (cores - others) // processes)
    per_process = " per process" if processes > 1 else ""
    return (
        f"[sft-recipes] warning: {others} busy threads of other processes on {cores} cores, and torch uses "
        f"{torch_threads} threads{per_process}: more busy threads than cores makes every step several times "
        f"slower. Start the run with OMP_NUM_THREADS={fit} (e.g. OMP_NUM_THREADS={fit} sft-recipes train ...)."
    )


def warn_if_oversubscribed() -> None:
    """Check once per process (CPU runs only) and print the warning if the threads outnumber the cores."""
    global _checked
    if _checked:
        return
    _checked = True
    import torch

    if torch.cuda.is_available():
        return
    message = oversubscription()
    if message:
        print(message, file=sys.stderr, flush=True)
