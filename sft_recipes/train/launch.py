"""``sft-recipes train --accelerate_config NAME`` (or ``sft-recipes launch NAME``): the training command under
``accelerate launch``, the way ``trl sft --accelerate_config`` does it: accelerate's own launch parser and
``launch_command`` run ``python -m sft_recipes.cli train <the same arguments>`` in every process.

NAME is one of ``CONFIGS`` (the YAML files in ``accelerate_configs/``) or a path to an accelerate config YAML.
``multi_cpu`` on one machine (no ``--mpirun_hostfile``) starts its processes with accelerate's multi-process
launcher (torchrun, gloo): accelerate's own MULTI_CPU path goes through mpirun and would start one process.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from sft_recipes import SFTRecipesError

CONFIG_DIR = Path(__file__).resolve().parents[2] / "accelerate_configs"
CONFIGS = {
    "single_gpu": "single_gpu.yaml",
    "multi_gpu": "multi_gpu.yaml",
    "zero2": "deepspeed_zero2.yaml",
    "zero3": "deepspeed_zero3.yaml",
    "fsdp2": "fsdp2.yaml",
    "multi_cpu": "multi_cpu.yaml",
}
ENTRY = ["--module", "sft_recipes.cli", "train"]


class LaunchConfigError(SFTRecipesError):
    pass


def config_path(name: str) -> Path:
    """A config name (``zero3``, also ``deepspeed_zero3``) or a path to an accelerate YAML -> the YAML file."""
    if name.endswith((".yaml", ".yml")) or "/" in name:
        path = Path(name)
        if not path.is_file():
            raise LaunchConfigError(f"--accelerate_config {name}: no such file")
        return path
    by_file = {Path(f).stem: f for f in CONFIGS.values()}
    file = CONFIGS.get(name) or by_file.get(name)
    if file is None:
        raise LaunchConfigError(f"unknown accelerate config {name!r}; valid names: {', '.join(CONFIGS)}, "
                                "or a path to an accelerate config YAML")
    path = CONFIG_DIR / file
    if not path.is_file():
        raise LaunchConfigError(f"accelerate config {name!r} is not at {path} (it ships in the source tree's "
                                "accelerate_configs/); pass a path to the YAML instead")
    return path


# accelerate launch options passed through as they are (the rest comes from the config file)
OPTIONS = {
    "num_processes": (int, "processes in all, over all machines (default: the config's)"),
    "num_machines": (int, "machines (default: the config's)"),
    "machine_rank": (int, "this machine's rank, 0 on the main one"),
    "main_process_ip": (str, "the main machine's address"),
    "main_process_port": (int, "a free port on the main machine"),
    "mixed_precision": (str, "no, fp16, bf16 or fp8 (default: the config's; no for DeepSpeed on CPU processes)"),
}


def add_launch_options(parser) -> None:
    for name, (kind, help_text) in OPTIONS.items():
        parser.add_argument(f"--{name}", type=kind, help=f"with a launch: {help_text}")


def launch_options(args) -> dict:
    return {name: getattr(args, name) for name in OPTIONS if getattr(args, name) is not None}


def launch_args(name: str, options: dict, train_argv: list[str]) -> list[str]:
    """The ``accelerate launch`` command line (without ``accelerate launch``) for the training arguments."""
    from accelerate.commands.config.config_args import load_config_from_file
    from accelerate.utils import DistributedType

    path = config_path(name)
    args = ["--config_file", str(path)]
    for key, value in options.items():
        args += [f"--{key}", str(value)]
    config = load_config_from_file(str(path))
    processes = options.get("num_processes") or config.num_processes or 1
    machines = options.get("num_machines") or config.num_machines or 1
    if config.distributed_type == DistributedType.MULTI_CPU and machines <= 1 and processes > 1:
        args.append("--multi_gpu")  # accelerate's torchrun launcher; the processes still run on CPU over gloo
    return [*args, *ENTRY, *train_argv]


def launch(name: str, options: dict, train_argv: list[str]) -> int:
    """Run ``sft-recipes train`` under ``accelerate launch``; the exit status of the launch."""
    from accelerate.commands.launch import launch_command, launch_command_parser
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError

    args = launch_command_parser().parse_args(launch_args(name, options, train_argv))
    try:
        launch_command(args)
    except subprocess.CalledProcessError as e:
        return e.returncode or 1
    except ChildFailedError:  # torch's elastic launcher: a process failed and printed its own error
        return 1
    return 0


def parse_launch(argv: list[str]) -> tuple[str, dict, list[str]]:
    """``NAME [launch options] [train arguments]`` -> (NAME, the launch options, the train arguments)."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="sft-recipes launch",
        description="sft-recipes train under accelerate launch (the same as train --accelerate_config NAME).",
        epilog="Every other argument goes to sft-recipes train: --config RECIPE and any --key value override.")
    parser.add_argument("name", help=f"{', '.join(CONFIGS)}, or a path to an accelerate config YAML")
    add_launch_options(parser)
    args, rest = parser.parse_known_args(argv)
    return args.name, launch_options(args), rest


def main(argv: list[str]) -> int:
    """``sft-recipes launch NAME [--num_processes N] [--num_machines M --machine_rank R --main_process_ip IP
    --main_process_port P] --config RECIPE [--key value ...]``."""
    return launch(*parse_launch(argv))
