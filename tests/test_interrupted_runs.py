"""Runs killed with SIGKILL (by PID, as the OOM killer or a cluster scheduler does) at any moment, during a training
step or in the middle of writing a checkpoint, are finished by rerunning the same command: the rerun resumes from the
newest complete checkpoint and ends with the adapter, metrics.jsonl and summary of a run that was never interrupted."""

from __future__ import annotations

import json
import random
import shutil
import time
from pathlib import Path

import pytest
import torch
from helpers import sums_file
from safetensors.torch import load_file

STAGING = ".checkpoint-staging"
MAX_STEPS = 8
SAVE_STEPS = 2
# the same in every run: how long it took, and where a run resumed from
TIMING_KEYS = {"train_seconds", "seconds_per_step", "tokens_per_second", "resumed_from"}


@pytest.fixture(scope="module")
def setup(tmp_path_factory, tiny_model_dir):
    root = tmp_path_factory.mktemp("interrupted")
    data = sums_file(root / "sums.jsonl", rows=20)
    return {"root": root, "data": data, "model": tiny_model_dir, "prepared": root / "prepared"}


def train_argv(setup, out: Path, *extra: str) -> list[str]:
    return [
        "train", "--model_name_or_path", str(setup["model"]), "--output_dir", str(out),
        "--prepared_dir", str(setup["prepared"]),
        "--datasets", json.dumps([{"path": str(setup["data"]), "format": "alpaca"}]),
        "--validation_size", "0.2", "--test_size", "0", "--per_device_train_batch_size", "4",
        "--max_steps", str(MAX_STEPS), "--save_strategy", "steps", "--save_steps", str(SAVE_STEPS),
        "--logging_steps", "1", "--use_peft", "--lora_r", "8", "--learning_rate", "5e-3",
        "--lr_scheduler_type", "linear", "--warmup_steps", "2", "--seed", "7", "--max_length", "128",
        "--disable_tqdm", "true", *extra,
    ]


@pytest.fixture(scope="module")
def uninterrupted(children, setup):
    out = setup["root"] / "uninterrupted"
    log = setup["root"] / "uninterrupted.log"
    assert children.run(train_argv(setup, out), log) == 0, log.read_text()[-3000:]
    return out


def loss_rows(out: Path) -> list[dict]:
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return [r for r in rows if "loss" in r]


def logged_step(out: Path, step: int) -> bool:
    try:
        return any(r.get("step") == step for r in loss_rows(out))
    except (OSError, ValueError):  # not there yet, or a line half written
        return False


def save_in_progress(out: Path, min_step: int = 1) -> bool:
    """A checkpoint of step >= min_step is being written: under the staging folder, or (as transformers writes it)
    under its final name but without trainer_state.json, the file written last."""
    try:
        for d in [*(out / STAGING).glob("checkpoint-*"), *out.glob("checkpoint-*")]:
            step = int(d.name.rsplit("-", 1)[1])
            if step < min_step or not any(d.iterdir()):
                continue
            if d.parent.name == STAGING or not (d / "trainer_state.json").exists():
                return True
    except (OSError, ValueError):
        pass
    return False


def assert_same_as_uninterrupted(out: Path, reference: Path) -> None:
    trained, expected = load_file(out / "adapter_model.safetensors"), load_file(reference / "adapter_model.safetensors")
    assert trained.keys() == expected.keys()
    for name in expected:
        assert torch.equal(trained[name], expected[name]), f"{name} differs from the uninterrupted run"
    rows, expected_rows = loss_rows(out), loss_rows(reference)
    assert [r["step"] for r in rows] == list(range(1, MAX_STEPS + 1)), "each step once in metrics.jsonl"
    assert rows == expected_rows
    summary = json.loads((out / "summary.json").read_text())
    reference_summary = json.loads((reference / "summary.json").read_text())
    assert summary.pop("train_loss") == pytest.approx(reference_summary.pop("train_loss"), rel=1e-12)
    for key in TIMING_KEYS:
        summary.pop(key), reference_summary.pop(key)
    assert summary == reference_summary


def test_kill_during_a_checkpoint_save_then_rerun_resumes_from_the_newest_complete_one(children, setup,
                                                                                        uninterrupted):
    out, log = setup["root"] / "killed_in_save", setup["root"] / "killed_in_save.log"
    process = children.start(train_argv(setup, out), log)
    landed = children.kill_when(process, lambda: save_in_progress(out, min_step=4),
                                confirm=lambda: save_in_progress(out, min_step=4))
    assert landed, "the run ended before the kill"
    assert not (out / "summary.json").exists()
    rerun_log = setup["root"] / "killed_in_save.rerun.log"
    assert children.run(train_argv(setup, out), rerun_log) == 0, rerun_log.read_text()[-3000:]
    said = rerun_log.read_text()
    assert "[sft-recipes] resuming from" in said
    assert_same_as_uninterrupted(out, uninterrupted)
    assert not (out / STAGING).exists(), "the unfinished save is cleaned up"


def test_resume_skips_a_broken_checkpoint_and_says_so(children, setup, uninterrupted):
    """A checkpoint damaged after the fact (a file cut short, as a full disk or an older writer leaves it) is
    skipped: the rerun resumes from the one before it, says which it skipped and why, and replaces it."""
    out = setup["root"] / "broken"
    shutil.copytree(uninterrupted, out)
    for name in ("adapter_model.safetensors", "summary.json"):
        (out / name).unlink()
    newest = out / f"checkpoint-{MAX_STEPS}"
    weights = newest / "adapter_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:4])
    log = setup["root"] / "broken.log"
    assert children.run(train_argv(setup, out), log) == 0, log.read_text()[-3000:]
    said = log.read_text()
    assert f"skipped checkpoint-{MAX_STEPS}" in said and "adapter_model.safetensors" in said, said[-3000:]
    assert f"resuming from {out / f'checkpoint-{MAX_STEPS - SAVE_STEPS}'}" in said
    assert_same_as_uninterrupted(out, uninterrupted)
    assert load_file(weights).keys() == load_file(uninterrupted / "adapter_model.safetensors").keys()


def test_kill_between_steps_then_rerun_logs_each_step_once_and_the_summary_of_the_whole_run(children, setup,
                                                                                             uninterrupted):
    """Killed just after step 3 was logged (the newest checkpoint is step 2): step 3 is trained again, logged
    once, and the summary covers the whole run (train_loss, tokens_seen), not only the steps after the resume."""
    out, log = setup["root"] / "killed_at_3", setup["root"] / "killed_at_3.log"
    process = children.start(train_argv(setup, out), log)
    assert children.kill_when(process, lambda: logged_step(out, 3))
    assert (out / "checkpoint-2").is_dir() and not (out / "checkpoint-4").exists()
    rerun_log = setup["root"] / "killed_at_3.rerun.log"
    assert children.run(train_argv(setup, out), rerun_log) == 0, rerun_log.read_text()[-3000:]
    assert json.loads((out / "summary.json").read_text())["resumed_from"] == str(out / "checkpoint-2")
    assert_same_as_uninterrupted(out, uninterrupted)


@pytest.mark.parametrize("seed", range(6))
def test_fault_injection_kill_at_a_random_moment_then_rerun(children, setup, uninterrupted, seed):
    """Seeded random kills: even seeds during a training step (after step k was logged, plus a random delay), odd
    seeds in the middle of writing a checkpoint (confirmed with the process stopped). Every rerun finishes with the
    uninterrupted run's adapter, metrics and summary."""
    rng = random.Random(seed)
    out, log = setup["root"] / f"fault_{seed}", setup["root"] / f"fault_{seed}.log"
    process = children.start(train_argv(setup, out), log)
    if seed % 2 == 0:
        step, delay = rng.randint(1, MAX_STEPS - 1), rng.uniform(0, 0.05)
        seen: list[float] = []

        def moment() -> bool:
            if not seen and logged_step(out, step):
                seen.append(time.monotonic())
            return bool(seen) and time.monotonic() - seen[0] >= delay

        landed = children.kill_when(process, moment)
    else:
        first = rng.choice(range(SAVE_STEPS, MAX_STEPS + 1, SAVE_STEPS))
        landed = children.kill_when(process, lambda: save_in_progress(out, first),
                                    confirm=lambda: save_in_progress(out, first))
    assert landed, f"the run ended before the kill (seed {seed})"
    rerun_log = setup["root"] / f"fault_{seed}.rerun.log"
    assert children.run(train_argv(setup, out), rerun_log) == 0, rerun_log.read_text()[-3000:]
    assert_same_as_uninterrupted(out, uninterrupted)
