"""More busy threads than cores (torch's own threads plus other processes' busy ones) makes CPU training several
times slower (a LoRA step took 61 s instead of 7 s on a loaded 2-core machine). Training warns once, with the fix."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
import torch

from sft_recipes.runtime import cpu_threads

BUSY_LOOP = "import time\nend = time.time() + 60\nwhile time.time() < end: pass\n"


@pytest.fixture
def two_busy_processes():
    procs = [subprocess.Popen([sys.executable, "-c", BUSY_LOOP]) for _ in range(2)]
    time.sleep(0.5)  # running
    yield procs
    for p in procs:
        p.kill()
        p.wait()


@pytest.fixture
def fresh_warning(monkeypatch):
    monkeypatch.setattr(cpu_threads, "_checked", False)


def test_busy_threads_of_other_processes_are_counted(two_busy_processes):
    assert cpu_threads.busy_threads_elsewhere() >= 1.5


def test_oversubscription_is_reported_with_the_fix(two_busy_processes):
    message = cpu_threads.oversubscription(cores=2, torch_threads=2)
    assert message is not None
    assert "torch uses 2 threads" in message and "on 2 cores" in message
    assert "OMP_NUM_THREADS=1 sft-recipes train" in message


def test_no_report_when_there_is_room_or_nothing_to_change():
    assert cpu_threads.oversubscription(cores=4096, torch_threads=2) is None
    assert cpu_threads.oversubscription(cores=2, torch_threads=1, busy=5.0) is None  # one thread: nothing to lower


def test_training_warns_once(two_busy_processes, fresh_warning, tiny_model_dir, tmp_path, capsys, monkeypatch):
    import json

    from transformers import TrainerCallback

    from sft_recipes.recipe import load_recipe
    from sft_recipes.train import train

    class Relieve(TrainerCallback):
        """Once training begins the check is long done: stop the load and train on one thread like other tests."""

        def on_train_begin(self, args, state, control, **kwargs):
            for p in two_busy_processes:
                p.kill()
            torch.set_num_threads(1)

    monkeypatch.setattr(cpu_threads, "usable_cores", lambda: 2)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        data = tmp_path / "d.jsonl"
        data.write_text("".join(json.dumps({"instruction": f"q{i}", "output": f"a{i}"}) + "\n" for i in range(4)))
        recipe = load_recipe(None, ["--model_name_or_path", str(tiny_model_dir), "--output_dir", str(tmp_path),
                                    "--validation_size", "0", "--test_size", "0", "--max_steps", "1",
                                    "--save_strategy", "no", "--disable_tqdm", "true", "--use_peft"],
                             datasets=[{"path": str(data), "format": "alpaca"}])
        train(recipe, callbacks=[Relieve()])
        cpu_threads.warn_if_oversubscribed()  # a second check in the same process says nothing
    finally:
        torch.set_num_threads(threads)
    printed = capsys.readouterr()
    assert (printed.out + printed.err).count("OMP_NUM_THREADS=1 sft-recipes train") == 1, printed.err[-3000:]
