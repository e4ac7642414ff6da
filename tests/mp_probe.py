"""Run by tests/test_multiprocess.py under `accelerate launch`: sft-recipes training plus a callback that records,
per rank, what the rank did (steps taken, a hash of the trainable weights, the rows it trained on)."""

import hashlib
import json
import os
import sys

import torch
from accelerate import PartialState
from transformers import TrainerCallback

from sft_recipes.recipe import load_recipe
from sft_recipes.train import train


class Probe(TrainerCallback):
    def __init__(self, out_dir):
        self.out_dir = out_dir
        self.steps = 0

    def on_step_end(self, args, state, control, **kw):
        self.steps += 1

    def on_train_end(self, args, state, control, model=None, **kw):
        h = hashlib.sha256()
        for name, p in sorted(model.named_parameters()):
            if p.requires_grad:
                h.update(name.encode())
                h.update(p.detach().to(torch.float32).cpu().numpy().tobytes())
        state_ = PartialState()
        rank = state_.process_index
        with open(os.path.join(self.out_dir, f"rank{rank}.json"), "w") as f:
            json.dump({"rank": rank, "world": state_.num_processes, "steps": self.steps,
                       "global_step": state.global_step, "weights": h.hexdigest()}, f)


if __name__ == "__main__":
    probe_dir, rest = sys.argv[1], sys.argv[2:]
    train(load_recipe(None, rest), callbacks=[Probe(probe_dir)])
