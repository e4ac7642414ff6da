"""Entry point for multi-process / multi-GPU training:

    accelerate launch --config_file accelerate_configs/multi_gpu.yaml scripts/sft.py --config recipes/x.yaml [--key value]

Identical to `sft-recipes train --config recipes/x.yaml [--key value]`.
"""

import sys

from sft_recipes.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
