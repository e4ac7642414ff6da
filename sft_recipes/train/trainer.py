"""TRL's SFTTrainer, with the loss scored only where there is a label on CPUs, tighter length grouping, and
resumes that continue the interrupted run exactly (checkpoints complete or absent, whole-run totals: resume.py).

TRL 1.16 computes the loss with a fused, vocabulary-tiled LM head. On CUDA/XPU (Triton) it projects only the
positions that carry a label; everywhere else it projects every position of the batch, tile by tile, and
masks the result. In SFT most positions are prompt (a court opinion before six short answers, a system prompt
before a one-line reply), so on a CPU most of that work is thrown away: measured on the quickstart's batches
(950 tokens, 576 trained) a LoRA forward + backward took 19-20 s with the tiled head and 10.5-11 s scoring only
the labelled positions.

On a CPU this trainer asks the model itself for logits at the labelled positions only (transformers'
``logits_to_keep`` boolean mask, an argument every causal LM in transformers takes) and takes the cross-entropy
there. The loss is the same number (sum of token NLLs over the labelled tokens, divided by the batch's label
count, or by ``num_items_in_batch`` under gradient accumulation) and the logged entropy / token accuracy are the
same metrics. Every other case (GPUs, DFT loss, label smoothing, a custom loss function, sequence parallelism,
MoE auxiliary losses, callers asking for the outputs) is TRL's own ``compute_loss``. A batch padded only on the
right runs without its padding mask: causal attention already keeps every real token from the padding after it, and
without a mask PyTorch's SDPA takes its causal kernel, which skips the future blocks instead of reading a
``[batch, 1, length, length]`` mask in every layer (the flash-attention backward was 29% of a quickstart step).

``train_sampling_strategy: group_by_length`` sorts rows by length in windows of 50 batches, as transformers does,
but on fewer than 200 batches transformers keeps 4 windows however small. Here a window is 50 batches or all of
them, and the batches of a window are shuffled (the longest first, so an out-of-memory shows at step 1). On the
benchmark's rows in batches of 8 (benchmarks/): 256 Alpaca-style rows are 95.3% non-pad with transformers' windows
and 98.8% here; 64 long-tailed rows 43% and 85%.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.utils.data import Sampler
from trl import SFTTrainer

from sft_recipes.chat.masking import next_token_targets
from sft_recipes.train.resume import ResumableTrainerMixin

WINDOW_BATCHES = 50


def right_padded_only(mask: torch.Tensor | None) -> bool:
    """Whether a 2-D padding mask only pads rows on the right (every row ones, then zeros). Causal attention
    then gives every real token the same output without the mask: a token never sees the padding after it."""
    if mask is None or mask.dim() != 2:
        return False
    return bool(mask[:, 0].all() and (mask[:, 1:] <= mask[:, :-1]).all())


class LengthWindowSampler(Sampler):
    """Rows sorted by length within windows of ``window_batches`` batches; the batches of a window in random order,
    the longest batch of the epoch first. Seeded by ``seed`` + epoch, so every process draws the same order."""

    def __init__(self, lengths: list[int], batch_size: int, seed: int, window_batches: int = WINDOW_BATCHES):
        self.lengths, self.batch_size, self.seed, self.window_batches = list(lengths), batch_size, seed, window_batches
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.lengths)

    def __iter__(self):
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        order = torch.randperm(len(self.lengths), generator=generator).tolist()
        window = self.window_batches * self.batch_size
        batches: list[list[int]] = []
        for start in range(0, len(order), window):
            rows = sorted(order[start : start + window], key=lambda i: self.lengths[i], reverse=True)
            chunk = [rows[k : k + self.batch_size] for k in range(0, len(rows), self.batch_size)]
            shuffled = torch.randperm(len(chunk), generator=generator).tolist()
            batches += [chunk[k] for k in shuffled]
        if batches:
            longest = max(range(len(batches)), key=lambda b: max(self.lengths[i] for i in batches[b]))
            batches[0], batches[longest] = batches[longest], batches[0]
        return iter([i for batch in batches for i in batch])

def _shards_sequences_or_tensors(parallelism_config) -> bool:
    return parallelism_config is not None and (
        parallelism_config.cp_enabled or parallelism_config.sp_enabled or parallelism_config.tp_enabled
    )

class SFTRecipesTrainer(ResumableTrainerMixin, SFTTrainer):
    """SFTTrainer + labelled-positions loss on CPU + length-window sampler + exact resumes (resume.py) + activation
    checkpointing decided per batch (checkpointing_policy.py) when the recipe leaves it unset."""

    checkpointing = None  # an AdaptiveCheckpointing, set by train.build_trainer

    def training_step(self, model, inputs, num_items_in_batch=None):
        if self.checkpointing is not None:
            unwrapped = self.accelerator.unwrap_model(model)
            base = unwrapped.get_base_model() if hasattr(unwrapped, "get_base_model") else unwrapped
            self.checkpointing.before_step(base, inputs)
        return super().training_step(model, inputs, num_items_in_batch)

    # Kept over TrainingArguments(train_sampling_strategy="group_by_length"), which we still read to switch it on:
    # transformers' LengthGroupedSampler draws from the global RNG and leaves each mega-batch's batches in descending
    # length order; ours is seeded by seed + epoch (an exact resume redraws the same order) and shuffles the batches
    # of a window. Trainer takes no sampler argument, so this overridable hook is the way in.
    def _get_train_sampler(self, train_dataset=None):
        dataset = train_dataset if train_dataset is not None else self.train_dataset
        column_names = getattr(dataset, "column_names", None) or []
        if self.args.train_sampling_strategy != "group_by_length" or "input_ids" not in column_names:
            return super()._get_train_sampler(train_dataset)
        lengths = [len(ids) for ids in dataset["input_ids"]]
        batch = self.args.train_batch_size * self.args.gradient_accumulation_steps
        return LengthWindowSampler(lengths, batch, self.args.seed)

    def _set_signature_columns_if_needed(self):
        # TRL keeps input_ids, labels and seq_lengths of a tokenized dataset; branch rows (group_turns: branches)
        # also carry the position_ids that say which tokens each branch shares
        super()._set_signature_columns_if_needed()
        if "position_ids" not in self._signature_columns:
            self._signature_columns = [*self._signature_columns, "position_ids"]

    def _scores_labelled_only(self, inputs, return_outputs: bool) -> bool:
        labels = inputs.get("labels")
        return (
            labels is not None
            and labels.device.type == "cpu"
            and not return_outputs
            and "shift_labels" not in inputs
            and self.args.loss_type == "nll"
            and self.label_smoother is None
            and self.compute_loss_func is None
            and not self.aux_loss_enabled
            and not _shards_sequences_or_tensors(self.accelerator.parallelism_config)
        )

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        if not self._scores_labelled_only(inputs, return_outputs):
            return super().compute_loss(model, inputs, return_outputs=return_outputs,
                                        num_items_in_batch=num_items_in_batch)
        mode = "train" if self.model.training else "eval"
        keep, targets = next_token_targets(inputs["labels"])
        model_inputs = {k: v for k, v in inputs.items() if k != "labels"}
        if right_padded_only(model_inputs.get("attention_mask")):
            # without a mask, sdpa runs its causal kernel (it skips the future blocks) instead of reading a
            # [batch, 1, length, length] mask in every layer: 10 quickstart steps 34.6 s -> 32.1 s
            model_inputs.pop("attention_mask")
        logits = model(**model_inputs, use_cache=False, logits_to_keep=keep).logits
        if logits.shape[:-1] != targets.shape:
            raise RuntimeError(
                f"{type(self.accelerator.unwrap_model(model)).__name__} ignored logits_to_keep as a boolean mask "
                f"(logits {tuple(logits.shape)} for {targets.numel()} labelled positions)"
            )
        log_probs = logits.float().log_softmax(-1)  # once: the loss and the logged metrics both read it
        nll = F.nll_loss(log_probs, targets, reduction="sum")
        num_tokens = targets.numel() if num_items_in_batch is None else num_items_in_batch
        loss = nll / torch.as_tensor(num_tokens).clamp(min=1)
        if self.args.average_tokens_across_devices and num_items_in_batch is not None:
            loss = loss * (self.accelerator.num_processes // self.get_tp_size())
        self._log_token_metrics(mode, log_probs.detach(), targets, inputs)
        return loss

    def _log_token_metrics(self, mode: str, log_probs: torch.Tensor, targets: torch.Tensor, inputs) -> None:
        """TRL's entropy / mean_token_accuracy / num_tokens metrics, from the labelled positions' log-probabilities."""
        with torch.no_grad():
            entropy_sum = -(log_probs.exp() * log_probs).sum()
            correct = (log_probs.argmax(-1) == targets).sum()
        gather = self.accelerator.gather_for_metrics
        num_valid = gather(torch.tensor(targets.numel(), device=log_probs.device)).sum()
        entropy_sum = gather(entropy_sum).sum()
        correct = gather(correct).sum()
        self._metrics[mode]["entropy"].append((entropy_sum / num_valid).item() if num_valid > 0 else 0.0)
        self._metrics[mode]["mean_token_accuracy"].append((correct / num_valid).item() if num_valid > 0 else 0.0)
        if mode == "train":
            mask = inputs.get("attention_mask")
            if mask is not None and mask.dim() == 2:
                local = mask.sum()
            else:  # padding-free (one row of real tokens) or branch rows (padded on the right)
                local = torch.tensor(inputs["input_ids"].numel(), device=log_probs.device)
            self._total_train_tokens += gather(local).sum().item() // self._tp_size
        self._metrics[mode]["num_tokens"] = [self._total_train_tokens]
