"""Every shipped accelerate config loads and passes accelerate's own launch validation."""

from pathlib import Path

import pytest
from accelerate.commands.config.config_args import ClusterConfig
from accelerate.commands.launch import _validate_launch_command, launch_command_parser
from accelerate.utils import DistributedType

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = {
    "single_gpu": DistributedType.NO,
    "multi_gpu": DistributedType.MULTI_GPU,
    "deepspeed_zero2": DistributedType.DEEPSPEED,
    "deepspeed_zero3": DistributedType.DEEPSPEED,
    "fsdp2": DistributedType.FSDP,
    "multi_cpu": DistributedType.MULTI_CPU,
}


def test_every_config_is_shipped():
    assert sorted(p.stem for p in (ROOT / "accelerate_configs").glob("*.yaml")) == sorted(CONFIGS)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_config_loads_and_validates(name):
    path = ROOT / "accelerate_configs" / f"{name}.yaml"
    cfg = ClusterConfig.from_yaml_file(str(path))
    assert cfg.distributed_type == CONFIGS[name]
    args = launch_command_parser().parse_args(["--config_file", str(path), "scripts/sft.py", "--config", "x.yaml"])
    args, defaults, mp = _validate_launch_command(args)
    assert args.num_processes == cfg.num_processes
    if name == "deepspeed_zero3":
        assert cfg.deepspeed_config["zero_stage"] == 3 and cfg.deepspeed_config["zero3_save_16bit_model"]
    if name == "deepspeed_zero2":
        assert cfg.deepspeed_config["zero_stage"] == 2
    if name == "fsdp2":
        assert cfg.fsdp_config["fsdp_version"] == 2
        assert cfg.fsdp_config["fsdp_state_dict_type"] == "FULL_STATE_DICT"  # adapters/models save as one file
    if name == "multi_cpu":
        assert cfg.use_cpu and cfg.mixed_precision == "no"
