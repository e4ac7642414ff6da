"""``sft-recipes train --accelerate_config NAME`` / ``sft-recipes launch NAME``: config names, the accelerate
launch it builds, a real 2-process CPU run that ends like the single-process one, and the 2-node Slurm example."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from accelerate.commands.launch import _validate_launch_command, launch_command_parser
from safetensors.torch import load_file

from sft_recipes.cli import main as cli_main
from sft_recipes.train.launch import CONFIGS, launch_args, parse_launch
from test_multiprocess import free_port, numbers_file

ROOT = Path(__file__).resolve().parents[1]
SLURM = ROOT / "scripts" / "slurm_2nodes.sbatch"


def validated(name: str, options: dict, train_argv=("--config", "r.yaml")):
    """accelerate's own parse + validation of the launch we build."""
    args = launch_command_parser().parse_args(launch_args(name, options, list(train_argv)))
    return _validate_launch_command(args)[0]


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_every_name_is_a_shipped_config_accelerate_accepts(name):
    args = validated(name, {})
    assert Path(args.config_file) == ROOT / "accelerate_configs" / CONFIGS[name]
    assert args.module and args.training_script == "sft_recipes.cli"
    assert args.training_script_args == ["train", "--config", "r.yaml"]


def test_names_aliases_paths_and_options():
    assert validated("deepspeed_zero3", {}).config_file == validated("zero3", {}).config_file
    path = ROOT / "accelerate_configs" / "multi_gpu.yaml"
    args = validated(str(path), {"num_processes": 16, "num_machines": 2, "machine_rank": 1,
                                 "main_process_ip": "10.0.0.1", "main_process_port": 29500})
    assert (args.num_processes, args.num_machines, args.machine_rank) == (16, 2, 1)
    assert (args.main_process_ip, args.main_process_port) == ("10.0.0.1", 29500)
    # multi_cpu on one machine: accelerate's torchrun launcher (its MULTI_CPU path is mpirun: one process here)
    assert validated("multi_cpu", {"num_processes": 2}).multi_gpu
    assert not validated("multi_cpu", {"num_processes": 1}).multi_gpu


def test_unknown_name_is_one_line(capsys):
    assert cli_main(["train", "--accelerate_config", "zero4", "--config", "r.yaml"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "zero4" in err
    assert all(name in err for name in CONFIGS)
    assert cli_main(["launch", "nope.yaml"]) == 1 and "nope.yaml: no such file" in capsys.readouterr().err
    assert cli_main(["train", "--num_processes", "2"]) == 1
    assert "--accelerate_config" in capsys.readouterr().err


def _train(cmd: list[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
           "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "sft_recipes.cli", *cmd], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-4000:]
    return proc


def _files(run: Path) -> list[str]:
    return sorted(str(p.relative_to(run)) for p in run.rglob("*") if p.is_file())


@pytest.mark.multiprocess
def test_multi_cpu_launch_trains_like_one_process(tiny_model_dir, tmp_path):
    data = numbers_file(tmp_path, 16)

    def recipe(run: Path, per_device: int) -> list[str]:
        return ["--model_name_or_path", str(tiny_model_dir), "--output_dir", str(run), "--validation_size", "0",
                "--test_size", "0", "--per_device_train_batch_size", str(per_device), "--max_steps", "2",
                "--learning_rate", "1e-2", "--logging_steps", "1", "--disable_tqdm", "true", "--seed", "7",
                "--train_sampling_strategy", "sequential", "--use_peft", "--lora_r", "4", "--lora_dropout", "0",
                "--datasets", json.dumps([{"path": str(data), "format": "alpaca"}])]

    single, multi = tmp_path / "single", tmp_path / "multi"
    _train(["train", *recipe(single, 4)])
    config = tmp_path / "multi_cpu.yaml"  # the shipped config on a free port (tests may run side by side)
    config.write_text((ROOT / "accelerate_configs" / "multi_cpu.yaml").read_text()
                      .replace("main_process_port: 29511", f"main_process_port: {free_port()}"))
    _train(["train", "--accelerate_config", str(config), "--num_processes", "2", *recipe(multi, 2)])

    # the same files, but a checkpoint holds each rank's RNG state (rng_state_<rank>.pth) where one process has one
    per_rank = {f"checkpoint-2/rng_state_{rank}.pth" for rank in (0, 1)}
    assert per_rank <= set(_files(multi)) and "checkpoint-2/rng_state.pth" in _files(single)
    assert set(_files(multi)) - per_rank == set(_files(single)) - {"checkpoint-2/rng_state.pth"}
    summary = [json.loads((run / "summary.json").read_text()) for run in (single, multi)]
    assert summary[0]["global_step"] == summary[1]["global_step"] == 2
    # 2 processes x 2 rows, gradients averaged = 1 process x 4 rows: the same losses and the same adapter
    losses = [[r["loss"] for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines()) if "loss" in r]
              for run in (single, multi)]
    assert losses[1] == pytest.approx(losses[0], rel=1e-4)
    adapters = [load_file(run / "adapter_model.safetensors") for run in (single, multi)]
    assert adapters[0].keys() == adapters[1].keys()
    for key in adapters[0]:
        torch.testing.assert_close(adapters[1][key], adapters[0][key], rtol=1e-4, atol=1e-5)


def test_slurm_example_starts_one_launcher_per_node(tmp_path):
    assert subprocess.run(["bash", "-n", str(SLURM)]).returncode == 0
    bin_dir, calls = tmp_path / "bin", tmp_path / "calls"
    bin_dir.mkdir()
    calls.mkdir()
    stubs = {  # what Slurm and the launcher would do, recorded instead
        "scontrol": 'printf "gpu-node-07\\ngpu-node-08\\n"',
        "srun": 'for node in 0 1; do SLURM_NODEID=$node "${@:3}"; done',  # drops --ntasks-per-node, --kill-on-bad-exit
        "sft-recipes": f'printf "%s\\n" "$@" > {calls}/node-$SLURM_NODEID',
    }
    for name, body in stubs.items():
        (bin_dir / name).write_text(f"#!/bin/bash\n{body}\n")
        (bin_dir / name).chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "SLURM_NNODES": "2",
           "SLURM_JOB_NODELIST": "gpu-node-[07-08]"}
    proc = subprocess.run(["bash", str(SLURM), "recipes/smollm2/alpaca_full.yaml", "zero3", "--learning_rate", "1e-5"],
                          capture_output=True, text=True, env=env, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    for rank in (0, 1):
        argv = (calls / f"node-{rank}").read_text().splitlines()
        assert argv[0] == "launch"
        name, options, rest = parse_launch(argv[1:])
        assert name == "zero3"
        assert options == {"num_processes": 16, "num_machines": 2, "machine_rank": rank,
                           "main_process_ip": "gpu-node-07", "main_process_port": 29500}
        assert rest == ["--config", "recipes/smollm2/alpaca_full.yaml", "--learning_rate", "1e-5"]
        args = validated(name, options, rest)
        assert (args.num_processes, args.num_machines, args.machine_rank) == (16, 2, rank)
