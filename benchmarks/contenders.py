"""The ways to train the same LoRA on the same rows whose throughput the benchmark compares.

    classic             the tutorial loop: every row padded to max_length, plain PyTorch AdamW, masked labels
    trl                 (b) vanilla TRL SFTTrainer with its defaults (random order, padding to the longest row of the
                        batch, activation checkpointing on), given the same pre-tokenized input_ids + labels
    trl_group_by_length TRL defaults + ``train_sampling_strategy: group_by_length`` (transformers' sampler)
    trl_padding_free    TRL defaults + ``padding_free: true`` (rows concatenated; sdpa's block-diagonal mask)
    trl_packing         TRL defaults + ``packing: true`` (bfd: rows packed up to max_length, padding-free)
    sft_recipes         (c) sft-recipes' own train path, ``sft_recipes.train.train(recipe)``, at its best CPU
                        settings per data shape (run.py)

(b') "TRL best" is, per data shape, whichever of the four TRL runs reached the most useful tokens/s in the same
benchmark run (report.py). All read the same prepared rows (``prepare`` ran once, in the parent), load the same
model in fp32 with the same LoRA config and seed, and are measured by the same forward hook and stopwatch
(measure.py). Each runs in its own process (``python -m benchmarks.contenders JOB.json RESULT.json``) so its peak RSS
is its own.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.measure import BatchMeter, Stopwatch, peak_rss_mb, trainer_callback

CONTENDERS = ("classic", "trl", "trl_group_by_length", "trl_padding_free", "trl_packing", "sft_recipes")
LABELS = {
    "classic": "(a) classic loop, pad to max_length",
    "trl": "(b) vanilla TRL SFTTrainer (defaults)",
    "trl_group_by_length": "(b') TRL + group_by_length",
    "trl_padding_free": "(b') TRL + padding_free",
    "trl_packing": "(b') TRL + packing (bfd)",
    "sft_recipes": "(c) sft-recipes train()",
}
# The SFTConfig options each TRL run adds to TRL's defaults (max_length=None: padding-free rows TRL cannot truncate;
# prepare already kept every row within max_length).
TRL_OPTIONS: dict[str, dict[str, Any]] = {
    "trl": {},
    "trl_group_by_length": {"train_sampling_strategy": "group_by_length"},
    "trl_padding_free": {"padding_free": True, "max_length": None},
    "trl_packing": {"packing": True, "packing_strategy": "bfd"},
}
TRL_RUNS = tuple(TRL_OPTIONS)


@dataclass
class Job:
    contender: str
    model: str  # model directory (or "embedded")
    data_file: str  # the Alpaca jsonl of this chunk
    prepared_dir: str  # where prepare wrote it (tokenized/ is what classic and trl read)
    output_dir: str
    max_length: int
    rows: int | None = None  # train on the first N prepared rows only (None: all)
    batch_size: int = 8
    learning_rate: float = 2e-4
    seed: int = 42
    lora_r: int = 16
    lora_alpha: int = 32
    overrides: dict[str, Any] = field(default_factory=dict)  # extra recipe keys for sft_recipes
    trl_overrides: dict[str, Any] = field(default_factory=dict)  # extra SFTConfig keys for the TRL runs but (b)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)


def sft_recipe(job: Job):
    """The recipe contender (c) trains with; ``prepare`` runs on the same recipe in the parent."""
    from sft_recipes.recipe import load_recipe

    values: dict[str, Any] = {
        "model_name_or_path": job.model,
        "use_peft": True,
        "lora_r": job.lora_r,
        "lora_alpha": job.lora_alpha,
        "lora_dropout": 0.0,
        "lora_target_modules": ["all-linear"],
        "datasets": [{"path": job.data_file, "format": "alpaca"}],
        "validation_size": 0.0,
        "test_size": 0.0,
        "prepared_dir": job.prepared_dir,
        "output_dir": job.output_dir,
        "max_length": job.max_length,
        "num_train_epochs": 1,
        "per_device_train_batch_size": job.batch_size,
        "gradient_accumulation_steps": 1,
        "learning_rate": job.learning_rate,
        "seed": job.seed,
        "logging_steps": 10,
        "save_strategy": "no",
        "eval_strategy": "no",
        "packing": False,
        "train_sampling_strategy": "group_by_length",
        "disable_tqdm": False,
    }
    values.update(job.overrides)
    return load_recipe(None, **values)


def lora_config(job: Job):
    """The LoRA every contender trains: built by sft-recipes from TRL's ModelConfig names, like contender (c)."""
    from trl import ModelConfig

    from sft_recipes.train.methods import lora_config as build

    return build(ModelConfig(use_peft=True, lora_r=job.lora_r, lora_alpha=job.lora_alpha, lora_dropout=0.0,
                             lora_target_modules=["all-linear"]))


def prepared_rows(job: Job):
    from datasets import load_from_disk

    train = load_from_disk(str(Path(job.prepared_dir) / "tokenized"))["train"].select_columns(["input_ids", "labels"])
    if job.rows is not None and job.rows < len(train):
        train = train.select(stratified_subset([len(ids) for ids in train["input_ids"]], job.rows))
    return train


def stratified_subset(lengths: list[int], k: int) -> list[int]:
    """``k`` row indices spread evenly over the rows sorted by length, so a subset has the length profile (and
    the long-row share) of the whole set rather than whatever happens to come first."""
    by_length = sorted(range(len(lengths)), key=lambda i: (lengths[i], i))
    n = len(by_length)
    return sorted(by_length[min(n - 1, int((j + 0.5) * n / k))] for j in range(k))


def run_classic(job: Job, meter: BatchMeter, watch: Stopwatch) -> dict[str, Any]:
    """The loop most tutorials show: pad to max_length, DataLoader(shuffle=True), AdamW, the model's own loss."""
    import torch
    from peft import get_peft_model
    from torch.utils.data import DataLoader, TensorDataset
    from tqdm import tqdm
    from transformers import AutoTokenizer

    from sft_recipes.inference.models import load_model, resolve_model

    torch.manual_seed(job.seed)
    tokenizer = AutoTokenizer.from_pretrained(resolve_model(job.model).path)
    rows = prepared_rows(job)
    n, length = len(rows), job.max_length
    input_ids = torch.full((n, length), tokenizer.pad_token_id, dtype=torch.long)
    labels = torch.full((n, length), -100, dtype=torch.long)
    attention = torch.zeros((n, length), dtype=torch.long)
    for i, row in enumerate(rows):
        k = min(len(row["input_ids"]), length)
        input_ids[i, :k] = torch.tensor(row["input_ids"][:k])
        labels[i, :k] = torch.tensor(row["labels"][:k])
        attention[i, :k] = 1
    loader = DataLoader(TensorDataset(input_ids, attention, labels), batch_size=job.batch_size, shuffle=True,
                        generator=torch.Generator().manual_seed(job.seed))
    model = get_peft_model(load_model(job.model, dtype=torch.float32), lora_config(job))
    model.config.use_cache = False
    model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=job.learning_rate)
    meter.attach(model)
    losses = []
    watch.begin()
    for ids, mask, lab in tqdm(loader, desc="classic loop", unit="step"):
        loss = model(input_ids=ids, attention_mask=mask, labels=lab).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(float(loss))
    watch.stop()
    meter.detach()
    return {"first_loss": losses[0], "last_loss": losses[-1],
            "settings": {"padding": f"max_length={length}", "order": "random (DataLoader shuffle)",
                         "optimizer": "torch.optim.AdamW", "activation_checkpointing": False,
                         "loss": "model(labels=...) on full logits"}}


def run_trl(job: Job, meter: BatchMeter, watch: Stopwatch) -> dict[str, Any]:
    """TRL as its docs show it, with its defaults plus the one option of this run; bf16 is off (the default fails
    on a CPU)."""
    import torch
    from transformers import AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from sft_recipes.inference.models import load_model, resolve_model

    tokenizer = AutoTokenizer.from_pretrained(resolve_model(job.model).path)
    model = load_model(job.model, dtype=torch.float32)
    options = {"max_length": job.max_length, **TRL_OPTIONS[job.contender]}
    if job.contender != "trl":
        options.update(job.trl_overrides)
    args = SFTConfig(output_dir=job.output_dir, bf16=False, num_train_epochs=1, seed=job.seed,
                     per_device_train_batch_size=job.batch_size, learning_rate=job.learning_rate,
                     report_to="none", save_strategy="no", **options)
    trainer = SFTTrainer(model=model, args=args, train_dataset=prepared_rows(job), processing_class=tokenizer,
                         peft_config=lora_config(job), callbacks=[trainer_callback(meter, watch)])
    result = trainer.train()
    order = args.train_sampling_strategy
    return {"train_loss": result.training_loss,
            "settings": {"padding": _padding(trainer.padding_free, args.pad_to_multiple_of),
                         "order": str(getattr(order, "value", order)), "packing": bool(args.packing),
                         "optimizer": str(args.optim.value if hasattr(args.optim, "value") else args.optim),
                         "activation_checkpointing": bool(args.activation_checkpointing),
                         "attention": model.config._attn_implementation, "max_length": args.max_length,
                         "options": options}}


def _padding(padding_free: bool, multiple: int | None) -> str:
    padding = "padding_free" if padding_free else "longest in batch"
    return f"{padding}, to a multiple of {multiple}" if multiple else padding


def run_sft_recipes(job: Job, meter: BatchMeter, watch: Stopwatch) -> dict[str, Any]:
    from sft_recipes.train import train

    recipe = sft_recipe(job)
    result = train(recipe, callbacks=[trainer_callback(meter, watch)])
    t = recipe.training
    return {"train_loss": result.train_loss,
            "settings": {"padding": _padding(t.padding_free or t.packing, t.pad_to_multiple_of),
                         "order": str(getattr(t.train_sampling_strategy, "value", t.train_sampling_strategy)),
                         "packing": bool(t.packing),
                         "optimizer": str(t.optim.value if hasattr(t.optim, "value") else t.optim),
                         "activation_checkpointing": result.summary.get("activation_checkpointing"),
                         "attention": result.summary.get("attention"), "max_length": t.max_length}}


RUNNERS = {"classic": run_classic, **{name: run_trl for name in TRL_RUNS}, "sft_recipes": run_sft_recipes}


def run_job(job: Job) -> dict[str, Any]:
    """Train one contender on its job and return what was measured."""
    if job.contender not in RUNNERS:
        raise ValueError(f"unknown contender {job.contender!r} (expected one of {', '.join(CONTENDERS)})")
    meter, watch = BatchMeter(), Stopwatch()
    extra = RUNNERS[job.contender](job, meter, watch)
    stats = meter.stats
    if stats.steps == 0:
        raise RuntimeError(f"{job.contender}: no training forward pass was measured")
    seconds = watch.seconds
    return {
        "contender": job.contender,
        "label": LABELS[job.contender],
        "examples": stats.sequences,
        "seconds": round(seconds, 3),
        "useful_tokens_per_s": round(stats.useful_tokens / seconds, 3),
        "processed_tokens_per_s": round(stats.padded_tokens / seconds, 3),
        "after_first_step": stats.after_first_step(watch.end),  # [useful tokens, seconds]
        **stats.to_dict(),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        **extra,
    }


def main(argv: list[str]) -> int:
    job_path, result_path = argv
    job = Job(**json.loads(Path(job_path).read_text()))
    result = run_job(job)
    Path(result_path).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
