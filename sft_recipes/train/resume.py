"""Resuming a run exactly: checkpoints that are complete or absent, and totals that cover the whole run.

``ResumableTrainerMixin`` goes in front of TRL's SFTTrainer (see trainer.py) and changes two things:

1. Checkpoints are written under ``output_dir/.checkpoint-staging/checkpoint-N`` and renamed to ``checkpoint-N``
   once every process has finished its part, so a kill during a save never leaves a ``checkpoint-N`` that looks
   usable (checkpoints.py finds the newest complete one). transformers' own ``_save_checkpoint`` still does all the
   writing (DeepSpeed / FSDP shards, per-rank RNG states, callback states, TRL's model card); it is only pointed at
   the staging folder, through ``_get_output_dir``, for the duration of the save.
2. transformers reports ``train_loss`` for the steps of the current ``train()`` call only, and TRL counts
   ``num_tokens`` from zero in every call, so a resumed run's summary covered only the steps after the resume
   (train_loss 4.26 instead of 4.34, 625 tokens instead of 960). Each checkpoint also stores the run's totals up
   to its step (``run_totals.json``: loss sum, tokens, training seconds); a resumed call starts from them, so its
   logs, metrics and returned ``training_loss`` are those of the whole run.

The hooks used are protected methods of transformers' Trainer (``_save_checkpoint``, ``_get_output_dir``,
``_push_from_checkpoint``) and the loss accumulators it keeps on itself (``_total_loss_scalar``, ``_tr_loss``):
no public hook runs before a checkpoint's files are written, and the running loss is only kept there. transformers
and TRL are pinned to tested ranges in pyproject.toml; tests/test_interrupted_runs.py kills real runs mid-save.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from sft_recipes.train.checkpoints import STAGING, TRAINER_STATE, publish

RUN_TOTALS = "run_totals.json"


@dataclass
class RunTotals:
    """What a run has done up to a step, across every resume."""

    global_step: int = 0
    loss_sum: float = 0.0  # sum over optimizer steps of the logged training loss
    num_tokens: int = 0  # tokens seen in training batches (TRL's num_tokens)
    train_seconds: float = 0.0  # time spent training the steps that count (not the ones lost to a kill)
    batches: int = 0  # batches seen by the per-batch activation checkpointing policy (0: no policy)
    batches_checkpointed: int = 0  # of those, batches that recomputed activations

    @property
    def train_loss(self) -> float:
        return self.loss_sum / max(self.global_step, 1)

    @classmethod
    def read(cls, checkpoint: str | Path | None) -> "RunTotals":
        """The totals saved in a checkpoint. A checkpoint written without them (another tool, an older version)
        gives totals rebuilt from its log history: exact when every step was logged."""
        if not checkpoint:
            return cls()
        path = Path(checkpoint)
        if (path / RUN_TOTALS).is_file():
            return cls(**json.loads((path / RUN_TOTALS).read_text()))
        state = json.loads((path / TRAINER_STATE).read_text())
        logged = [h for h in state.get("log_history", []) if "loss" in h]
        loss_sum, last = 0.0, 0
        for h in logged:
            loss_sum += h["loss"] * (h["step"] - last)
            last = h["step"]
        tokens = next((h["num_tokens"] for h in reversed(logged) if "num_tokens" in h), 0)
        return cls(state.get("global_step", 0), loss_sum, int(tokens), 0.0)

    def write(self, checkpoint: Path) -> None:
        (checkpoint / RUN_TOTALS).write_text(json.dumps(asdict(self), indent=2))


class ResumableTrainerMixin:
    """Staged checkpoint saves and whole-run totals for a transformers Trainer subclass."""

    _staging_root: Path | None = None
    _deferred_push: bool = False
    _prior = RunTotals()
    _call_started = 0.0
    final_totals: RunTotals | None = None  # the whole run's totals when train() returned

    # --- totals -------------------------------------------------------------------------------------------------

    def train(self, resume_from_checkpoint=None, trial=None, ignore_keys_for_eval=None):
        if resume_from_checkpoint is True:  # transformers would take the highest checkpoint-N, broken or not
            from sft_recipes.train.checkpoints import latest_complete_checkpoint

            found, _ = latest_complete_checkpoint(Path(self.args.output_dir))
            if found is None:
                raise ValueError(f"No complete checkpoint found in output_dir ({self.args.output_dir})")
            resume_from_checkpoint = str(found)
        checkpoint = resume_from_checkpoint if isinstance(resume_from_checkpoint, (str, Path)) else None
        self._prior = RunTotals.read(checkpoint)
        self._total_train_tokens = self._prior.num_tokens  # TRL's token counter, else restarted at 0
        self._call_started = time.perf_counter()
        output = super().train(resume_from_checkpoint, trial, ignore_keys_for_eval)
        self.final_totals = self.run_totals()
        return output._replace(training_loss=self.final_totals.train_loss)

    def run_totals(self, unlogged_loss: float = 0.0) -> RunTotals:
        """The whole run's totals now: the resumed checkpoint's, plus this call's."""
        policy = getattr(self, "checkpointing", None)
        return RunTotals(
            global_step=self.state.global_step,
            loss_sum=self._prior.loss_sum + self._total_loss_scalar + unlogged_loss,
            num_tokens=int(self._total_train_tokens),
            train_seconds=self._prior.train_seconds + time.perf_counter() - self._call_started,
            batches=self._prior.batches + (policy.steps if policy else 0),
            batches_checkpointed=self._prior.batches_checkpointed + (policy.steps_checkpointed if policy else 0),
        )

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        if "train_loss" in logs:  # the last log of train(): the whole run's mean loss, not this call's
            logs["train_loss"] = self.run_totals().train_loss
        super().log(logs, start_time)

    # --- staged checkpoints -------------------------------------------------------------------------------------

    def _get_output_dir(self, trial) -> str:
        # Only while _save_checkpoint runs: transformers writes the checkpoint under <run dir>/<this>/checkpoint-N.
        if self._staging_root is not None:
            return str(self._staging_root)
        return super()._get_output_dir(trial)

    def _push_from_checkpoint(self, checkpoint_folder: str) -> None:
        # The Hub upload runs in the background: start it from the final folder, after the rename.
        if self._staging_root is not None:
            self._deferred_push = True
            return
        super()._push_from_checkpoint(checkpoint_folder)

    def _save_checkpoint(self, model, trial) -> None:
        from transformers.trainer_pt_utils import nested_gather
        from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR, rotate_checkpoints

        run_dir = Path(super()._get_output_dir(trial))
        name = f"{PREFIX_CHECKPOINT_DIR}-{self.state.global_step}"
        staging_root = run_dir / STAGING
        staged, final = staging_root / name, run_dir / name
        if self.args.should_save:
            shutil.rmtree(staged, ignore_errors=True)  # a save of this step that an earlier kill interrupted
        # the loss of steps not logged yet (none when logging_steps divides save_steps), as the next log gathers it
        unlogged = nested_gather(self._tr_loss.detach(), self.args.parallel_mode).mean().item()
        self.accelerator.wait_for_everyone()
        self._staging_root, self._deferred_push = staging_root, False
        try:
            super()._save_checkpoint(model, trial)
        finally:
            self._staging_root = None
        if self.args.should_save:
            self.run_totals(unlogged).write(staged)
            if self.state.best_model_checkpoint == str(staged):  # transformers recorded the staging path
                self.state.best_model_checkpoint = str(final)
                self.state.save_to_json(str(staged / TRAINER_STATE))
        self.accelerator.wait_for_everyone()  # every rank has written its part (RNG state, shards)
        if self.args.should_save:
            publish(staged, final)
            rotate_checkpoints(output_dir=str(run_dir), save_total_limit=self.args.save_total_limit,
                               best_model_checkpoint=self.state.best_model_checkpoint, use_mtime=True)
        if self._deferred_push:
            self._deferred_push = False
            self._push_from_checkpoint(str(final))
        self.accelerator.wait_for_everyone()
