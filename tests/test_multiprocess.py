"""A real 2-process data-parallel run on CPU (gloo), launched with torchrun as on a laptop without MPI."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def numbers_file(folder: Path, rows: int) -> Path:
    data = folder / "data.jsonl"
    data.write_text("".join(json.dumps({"instruction": f"Repeat the number {i}.", "output": f"{i}"}) + "\n"
                            for i in range(rows)))
    return data


def torchrun_probe(probe: Path, model_dir: Path, data: Path, run: Path, *extra: str) -> subprocess.CompletedProcess:
    """tests/mp_probe.py (sft-recipes training + a per-rank record) in 2 CPU processes, LoRA on the tiny model."""
    cmd = [
        str(Path(sys.executable).with_name("torchrun")), "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
        "--master_port", str(free_port()), str(ROOT / "tests" / "mp_probe.py"), str(probe),
        "--model_name_or_path", str(model_dir), "--output_dir", str(run), "--validation_size", "0", "--test_size", "0",
        "--per_device_train_batch_size", "2", "--use_peft", "--lora_r", "4", "--learning_rate", "1e-2",
        "--logging_steps", "1", "--disable_tqdm", "true",
        "--datasets", json.dumps([{"path": str(data), "format": "alpaca"}]), *extra,
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)


@pytest.mark.multiprocess
def test_two_process_cpu_run(tiny_model_dir, tmp_path):
    rows = 16
    data = numbers_file(tmp_path, rows)
    probe, run = tmp_path / "probe", tmp_path / "run"
    probe.mkdir()
    proc = torchrun_probe(probe, tiny_model_dir, data, run, "--num_train_epochs", "1", "--save_strategy", "no")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    ranks = [json.loads((probe / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert all(r["world"] == 2 for r in ranks)
    # data is sharded: 16 rows / (2 ranks x 2 per device) = 4 steps per epoch (8 if every rank saw all rows)
    assert [r["global_step"] for r in ranks] == [rows // 4, rows // 4]
    assert [r["steps"] for r in ranks] == [rows // 4, rows // 4]  # both ranks stepped
    assert ranks[0]["weights"] == ranks[1]["weights"]  # gradients all-reduced: identical weights after the steps
    # only rank 0 writes: one metrics line per logged step, not two
    losses = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert len([r for r in losses if "loss" in r]) == rows // 4
    # tokenization ran once (main process first; the other rank read the result)
    assert (proc.stdout + proc.stderr).count("[sft-recipes] prepared") == 1


@pytest.mark.multiprocess
def test_two_process_checkpoints_are_whole_and_a_rerun_resumes_on_both_ranks(tiny_model_dir, tmp_path):
    """Under torchrun every rank writes its part of a checkpoint (its RNG state) into the staging folder; rank 0
    renames it once all are done. A second run into the same output_dir is refused on every rank while the lock is
    held, and after that a longer rerun resumes both ranks from the newest checkpoint."""
    from sft_recipes.runtime.run_lock import run_lock

    data = numbers_file(tmp_path, 16)
    probe, run = tmp_path / "probe", tmp_path / "run"
    probe.mkdir()

    def torchrun(max_steps: int) -> subprocess.CompletedProcess:
        return torchrun_probe(probe, tiny_model_dir, data, run, "--max_steps", str(max_steps),
                              "--save_strategy", "steps", "--save_steps", "2")

    with run_lock(run):
        refused = torchrun(4)
    assert refused.returncode != 0 and "is in use by another run" in refused.stderr, refused.stderr[-3000:]
    assert not (run / "checkpoint-2").exists()

    first = torchrun(4)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    for step in (2, 4):
        checkpoint = run / f"checkpoint-{step}"
        assert {"rng_state_0.pth", "rng_state_1.pth", "run_totals.json", "trainer_state.json",
                "adapter_model.safetensors"} <= {p.name for p in checkpoint.iterdir()}
    assert not (run / ".checkpoint-staging").exists() and not (run / ".sft-recipes.lock").exists()

    second = torchrun(6)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert (second.stdout + second.stderr).count(f"resuming from {run / 'checkpoint-4'}") == 1  # printed by rank 0
    ranks = [json.loads((probe / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["global_step"] for r in ranks] == [6, 6] and [r["steps"] for r in ranks] == [2, 2]
    assert ranks[0]["weights"] == ranks[1]["weights"]
    losses = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in losses if "loss" in r] == [1, 2, 3, 4, 5, 6]
