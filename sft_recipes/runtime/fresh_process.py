"""Run one function in a new Python process, for work that is slower in a process that has just trained.

After training, a process's heap and its cache of CPU kernels compiled per tensor shape make generation about 1.35x
slower than in a new process (the quickstart's evaluation: 131 s in the training process, 98 s in a fresh one, same
trained run and answers). The new process is spawned, not forked, so it shares no threads or locks with this one;
it hides the same upstream messages as the command that started it (quiet.py).
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor

from sft_recipes.runtime import quiet


def in_fresh_process(fn, *args):
    """``fn(*args)`` in a new Python process; its result, or its exception, comes back here.

    ``fn`` must be importable by name (a module-level function) and its arguments and result picklable.
    """
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=spawn, initializer=quiet.install) as pool:
        return pool.submit(fn, *args).result()
