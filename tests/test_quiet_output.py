"""What a person sees: every line the CLI prints is ours (prepare, train, eval, export on the tiny model), and
``--verbose`` lets the hidden upstream lines through again."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from helpers import sums_file

ROOT = Path(__file__).resolve().parents[1]

# every line a quiet run may print
ALLOWED = {
    "ours": re.compile(r"^\[sft-recipes\] "),
    "tqdm bar": re.compile(r"^(.*: ?)?\s*\d+%\|[^|]*\|\s*\d+/\d+ \[[^\]]*\]\s*$"),
    "rich table rule or row": re.compile(r"^[┏┃┡│└╭╰├┣]"),
    "rich table title": re.compile(r"^datasets\s*$"),
    "trainer log (transformers' progress callback)": re.compile(r"^\{'[a-z_]+': .*\}$"),
    "one-line JSON result": re.compile(r'^\{".*\}$'),
}


def strip_json_result(stdout: str) -> str:
    """stdout without the pretty-printed JSON result a command may end with (export prints one)."""
    lines = stdout.splitlines()
    if "{" in lines:
        start = len(lines) - 1 - lines[::-1].index("{")
        try:
            json.loads("\n".join(lines[start:]))
            return "\n".join(lines[:start])
        except json.JSONDecodeError:
            pass
    return stdout


def foreign_lines(proc: subprocess.CompletedProcess) -> list[str]:
    text = strip_json_result(proc.stdout) + "\n" + proc.stderr
    lines = [x.rstrip() for x in re.split(r"[\r\n]", text) if x.strip()]
    return [x for x in lines if not any(p.match(x) for p in ALLOWED.values())]


def cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    env.pop("SFT_RECIPES_VERBOSE", None)
    proc = subprocess.run([sys.executable, "-m", "sft_recipes.cli", *args], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


@pytest.fixture(scope="module")
def recipe(tiny_model_dir, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("quiet")
    path = folder / "recipe.yaml"
    path.write_text(yaml.safe_dump({
        "model_name_or_path": str(tiny_model_dir), "output_dir": str(folder / "run"),
        "datasets": [{"path": str(sums_file(folder / "sums.jsonl")), "format": "alpaca"}],
        "validation_size": 0.25, "test_size": 0.25, "per_device_train_batch_size": 4,
        "use_peft": True, "lora_r": 4, "max_steps": 2, "logging_steps": 1,
    }))
    return path


def test_every_printed_line_is_ours(recipe):
    run = yaml.safe_load(recipe.read_text())["output_dir"]
    outputs = {
        "prepare": cli("prepare", "--config", str(recipe)),
        "train": cli("train", "--config", str(recipe)),
        "eval": cli("eval", "--config", str(recipe), "--num_samples", "2"),
        "export": cli("export", "--run", run, "--merge", "--out", str(Path(run).parent / "merged")),
    }
    assert {name: foreign_lines(proc) for name, proc in outputs.items()} == {name: [] for name in outputs}
    # the commands did print (a silent command would pass the check above too)
    assert "[sft-recipes] prepared" in outputs["prepare"].stdout
    assert "[sft-recipes] done: 2 steps" in outputs["train"].stdout
    assert "[sft-recipes] tuned: headline" in outputs["eval"].stdout
    assert json.loads(outputs["export"].stdout[outputs["export"].stdout.rindex("\n{\n"):])["merged"] is True


def test_help_prints_help_only():
    help_ = cli("train", "--help")
    assert help_.stdout.startswith("usage: sft-recipes train") and "--accelerate_config" in help_.stdout
    assert help_.stderr == ""  # argparse's help on stdout, nothing else anywhere


def test_verbose_lets_upstream_lines_through(recipe, tmp_path):
    quiet = cli("train", "--config", str(recipe), "--output_dir", str(tmp_path / "quiet"))
    verbose = cli("--verbose", "train", "--config", str(recipe), "--output_dir", str(tmp_path / "verbose"))
    hidden = "`is_gradient_checkpointing` is deprecated"  # peft reads the old name while wrapping the model
    assert hidden not in quiet.stderr and hidden in verbose.stderr
    assert foreign_lines(verbose)
    # after the subcommand works too, and the flag never reaches the recipe parser
    again = cli("train", "--verbose", "--config", str(recipe), "--output_dir", str(tmp_path / "verbose2"))
    assert hidden in again.stderr and "[sft-recipes] done: 2 steps" in again.stdout
