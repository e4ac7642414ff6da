"""Keys of TRL's ``trl sft`` configs and of the alignment-handbook's recipes, read with the same meaning here.

Every key of TRL's ``ScriptArguments``, ``ModelConfig`` and ``SFTConfig`` (checked against the installed trl) and
the handbook's recipe keys is one of:

    TRL's own key, passed through     ModelConfig / SFTConfig fields that mean the same here (``recipe.py``)
    translated                        ``dataset_name`` -> a ``datasets`` entry, ``chat_template_path`` ->
                                      ``chat_template``, ``assistant_only_loss`` -> ``train_on`` ... (``ALIASES``)
    accepted with one printed note    the key has no effect here, and the note says why (``overwrite_output_dir``)
    refused at load time              the message names the key that does it here (``data_files`` -> ``datasets``)

``translate_keys`` runs on the flat mapping of a recipe before it is sorted into sections, so everything after sees
only sft-recipes' own keys; its errors are reported with the rest of the recipe's, all at once.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class Alias:
    origin: str  # where the key comes from: "TRL ScriptArguments", "TRL SFTConfig", "alignment-handbook", ...
    meaning: str  # what it does here (the README's table)
    translate: Callable[[dict[str, Any], Any, list[str]], str | None] | None = None  # (given, value, notes) -> error


def _rename(target: str):
    def apply(given: dict[str, Any], key_value: tuple[str, Any], notes: list[str]) -> str | None:
        key, value = key_value
        if target in given and given[target] != value:
            return f"{key} and {target} are the same setting here: keep {target}"
        given[target] = value
        return None
    return apply


def _note(text: str):
    def apply(given: dict[str, Any], key_value: tuple[str, Any], notes: list[str]) -> str | None:
        notes.append(f"{key_value[0]}: {text}")
        return None
    return apply


def _refuse(text: str):
    def apply(given: dict[str, Any], key_value: tuple[str, Any], notes: list[str]) -> str | None:
        return f"recipe key {key_value[0]!r}: {text}"
    return apply


def _train_on(key_value: tuple[str, Any], given: dict[str, Any]) -> str | None:
    """assistant_only_loss / completion_only_loss -> train_on (true/null: assistant, false: all)."""
    key, value = key_value
    if isinstance(value, str):
        value = {"true": True, "false": False, "null": None, "none": None}.get(value.lower(), value)
    if value not in (True, False, None):
        return f"recipe key {key!r} expects true or false, got {value!r}"
    wanted = "all" if value is False else "assistant"
    if given.get("train_on", wanted) != wanted:
        return f"{key}: {value} means train_on: {wanted}, but the recipe sets train_on: {given['train_on']}"
    given["train_on"] = wanted
    return None


def _loss_key(given: dict[str, Any], key_value: tuple[str, Any], notes: list[str]) -> str | None:
    return _train_on(key_value, given)


def _env(given: dict[str, Any], key_value: tuple[str, Any], notes: list[str]) -> str | None:
    """TRL's CLI config: ``env: {NAME: value}`` is set in the environment before anything runs."""
    value = key_value[1]
    if not isinstance(value, dict):
        return f"recipe key 'env' expects a mapping of environment variables, got {value!r}"
    for name, setting in value.items():
        os.environ[str(name)] = str(setting)
    return None


def _packing_strategy(given: dict[str, Any], key_value: tuple[str, Any], notes: list[str]) -> str | None:
    given["packing_strategy"] = key_value[1]
    return None


# --- the table -------------------------------------------------------------------------------------------------------

TRL = "TRL ScriptArguments"
SFT = "TRL SFTConfig"
TA = "transformers TrainingArguments (in SFTConfig)"
HANDBOOK = "alignment-handbook"
OLD = "TRL < 1 / transformers < 5"
MISC = "other tools"

ALIASES: dict[str, Alias] = {
    # TRL's ScriptArguments (the dataset keys of ``trl sft``): read by data_aliases.datasets_from_trl
    "dataset_name": Alias(TRL, "one `datasets` entry: `{path: <dataset_name>}`"),
    "dataset_config": Alias(TRL, "that entry's `name` (the Hub config)"),
    "dataset_train_split": Alias(TRL, "that entry's `split` (default `train`)"),
    "dataset_test_split": Alias(TRL, "an `eval_test_data` entry: the split is evaluated after training (held-out "
                                     "loss and generations) beside the test split cut from the training data"),
    "dataset_streaming": Alias(TRL, "`false`: nothing to do; `true`: refused (prepare reads every row once; "
                                    "use `max_samples` per dataset)"),
    "ignore_bias_buffers": Alias(TRL, "accepted with a note: no effect on SFT here (a DDP setting for bias "
                                      "buffers of some models)", _note("no effect here (the model is wrapped by "
                                                                       "accelerate; SFT has no bias buffers to skip)")),
    # the alignment-handbook's data keys
    "dataset_mixture": Alias(HANDBOOK, "`datasets` entries: `id` -> `path`, `config` -> `name`, `split`, `weight`, "
                                       "`columns` (a list: those columns are kept); `test_split_size` -> "
                                       "`validation_size` (a fraction, or a number of rows); `seed` -> mixing seed "
                                       "note (mixing and splits follow `seed`)"),
    "dataset_mixer": Alias(HANDBOOK, "`datasets` entries, each `{path: <name>, weight: <fraction>}` "
                                     "(with `dataset_splits` / `dataset_configs`)"),
    "dataset_splits": Alias(HANDBOOK, "with `dataset_mixer`: `train*` splits are trained on, `test*` splits "
                                      "become `eval_test_data`"),
    "dataset_configs": Alias(HANDBOOK, "with `dataset_mixer`: each entry's `name`"),
    "text_column": Alias(HANDBOOK, "`dataset_text_field`", _rename("dataset_text_field")),
    "preprocessing_num_workers": Alias(HANDBOOK, "`dataset_num_proc`", _rename("dataset_num_proc")),
    "truncation_side": Alias(HANDBOOK, "refused: use `length_policy` (drop | truncate | error)",
                             _refuse("rows over max_length are handled by length_policy here (drop, truncate the "
                                     "response, or error)")),
    "auto_insert_empty_system_msg": Alias(HANDBOOK, "refused: use `system_prompt`",
                                          _refuse("set system_prompt: <text> to give rows without one a system "
                                                  "message")),
    "tokenizer_name_or_path": Alias(HANDBOOK, "refused: the tokenizer is the model's; a template: `chat_template`",
                                    _refuse("the tokenizer is the model's own here; to train with another template "
                                            "set chat_template (a .jinja file, trl:<family>, or the text)")),
    "use_flash_attention_2": Alias(HANDBOOK, "`attn_implementation: flash_attention_2`"),
    "model_code_revision": Alias(HANDBOOK, "`model_revision`", _rename("model_revision")),
    "base_model_revision": Alias(HANDBOOK, "refused: an adapter's base model is `model_name_or_path`",
                                 _refuse("the base model is model_name_or_path (with model_revision)")),
    "torch_dtype": Alias(HANDBOOK + ", " + OLD, "`dtype`", _rename("dtype")),
    # TRL's SFTConfig keys that sft-recipes does itself
    "chat_template_path": Alias(SFT, "`chat_template` (a .jinja file or a tokenizer directory): the template "
                                     "prepare trains on is the one saved with the run and exported",
                                _rename("chat_template")),
    "assistant_only_loss": Alias(SFT, "`true` -> `train_on: assistant` (the default), `false` -> `train_on: all`; "
                                      "never passed to TRL (labels are made and checked by prepare)", _loss_key),
    "completion_only_loss": Alias(SFT, "prompt-completion data: `true`/`null` -> `train_on: assistant` (the "
                                       "completion only, the default), `false` -> `train_on: all`", _loss_key),
    "dataset_kwargs": Alias(SFT, "accepted with a note: prepare always builds the dataset",
                            _note("no effect here: prepare builds and tokenizes the dataset itself")),
    "truncation_mode": Alias(SFT, "accepted with a note: rows over `max_length` follow `length_policy`",
                             _note("rows over max_length follow length_policy here (drop by default; truncate "
                                   "cuts the last response)")),
    "shuffle_dataset": Alias(SFT, "accepted with a note: the trainer shuffles every epoch; splits are seeded",
                             _note("no effect here: the trainer shuffles the training rows every epoch")),
    "model_init_kwargs": Alias(SFT, "refused: set `dtype`, `attn_implementation`, `trust_remote_code`, "
                                    "`model_revision` directly",
                               _refuse("set dtype, attn_implementation, trust_remote_code and model_revision as "
                                       "recipe keys (the model is loaded by sft-recipes, not by TRL)")),
    "max_seq_length": Alias(OLD, "`max_length` (TRL's new name)", _rename("max_length")),
    "warmup_ratio": Alias(OLD, "`warmup_steps` (transformers 5 reads a value below 1 as the ratio)",
                          _rename("warmup_steps")),
    "evaluation_strategy": Alias(OLD, "`eval_strategy` (transformers' new name)", _rename("eval_strategy")),
    "num_processes": Alias("TRL CLI config", "refused: a launcher option (`accelerate launch --num_processes N`)",
                           _refuse("processes are the launcher's: accelerate launch --num_processes N "
                                   "scripts/sft.py --config RECIPE")),
    "accelerate_config": Alias("TRL CLI config", "refused: a launcher option (`accelerate launch --config_file`)",
                               _refuse("accelerate launch --config_file accelerate_configs/<name>.yaml "
                                       "scripts/sft.py --config RECIPE (zero2, zero3, fsdp2, multi_gpu, ...)")),
    "packing_strategy": Alias(SFT, "TRL's own; `ffd` (its old name) -> `bfd`", _packing_strategy),
    # transformers' TrainingArguments keys
    "overwrite_output_dir": Alias(TA, "accepted with a note: removed in transformers 5; a run writes into "
                                      "`output_dir` and resumes from its checkpoints",
                                  _note("ignored (transformers 5 removed it): a run writes into output_dir and "
                                        "resumes from its last complete checkpoint")),
    "push_to_hub": Alias(TA, "accepted with a note: training pushes nothing; `sft-recipes export --run DIR "
                             "--push_to_hub <hub_model_id>` pushes the checked export with its model card"),
    "env": Alias("TRL CLI config", "environment variables set before the run (as `trl sft` does)", _env),
    # what people write that sft-recipes does another way: a hint, never a guess
    "data_files": Alias(MISC, "refused: each file is a `datasets` entry",
                        _refuse("list each file as a dataset entry: datasets: [{path: train.jsonl}] (a directory "
                                "of files works too; train*/test* names pick the split)")),
    **{key: Alias(MISC, "refused: `max_samples` (rows) or `weight` (a fraction) per `datasets` entry",
                  _refuse("set max_samples (a number of rows) or weight (0.5 keeps a seeded half) on each "
                          "datasets entry"))
       for key in ("fraction", "dataset_fraction", "max_samples", "max_train_samples", "num_samples",
                   "train_samples", "max_eval_samples")},
}

MODEL = "TRL ModelConfig"
# TRL's keys that keep their meaning here, checked against the installed trl's dataclasses by the tests; the rest
# of SFTConfig (transformers' TrainingArguments) passes through too, except the TrainingArguments keys in ALIASES.
PASSED_THROUGH: dict[str, str] = {
    "model_name_or_path": MODEL, "dtype": MODEL, "attn_implementation": MODEL,
    "model_revision": MODEL + " (passed to from_pretrained)", "use_peft": MODEL, "lora_r": MODEL,
    "lora_alpha": MODEL, "lora_dropout": MODEL, "lora_target_modules": MODEL, "lora_target_parameters": MODEL,
    "lora_modules_to_save": MODEL, "lora_task_type": MODEL, "use_rslora": MODEL, "use_dora": MODEL,
    "load_in_8bit": MODEL, "load_in_4bit": MODEL, "bnb_4bit_quant_type": MODEL, "use_bnb_nested_quant": MODEL,
    "bnb_4bit_quant_storage": MODEL,
    "trust_remote_code": SFT + " (passed to from_pretrained)", "router_aux_loss_coef": SFT,
    "dataset_text_field": SFT + " (the raw-text column of `format: text` data)",
    "dataset_num_proc": SFT + " (processes that tokenize in prepare)",
    "eos_token": SFT + " (set on the tokenizer before the template)", "pad_token": SFT + " (likewise)",
    "max_length": SFT + " (rows longer follow `length_policy`)", "packing": SFT, "padding_free": SFT,
    "pad_to_multiple_of": SFT, "eval_packing": SFT, "loss_type": SFT, "activation_offloading": SFT,
}

# Read together by data_aliases (they make dataset entries), not one by one.
DATA_KEYS = ("dataset_name", "dataset_config", "dataset_train_split", "dataset_test_split", "dataset_streaming",
             "dataset_mixture", "dataset_mixer", "dataset_splits", "dataset_configs")


def translate_keys(given: dict[str, Any]) -> tuple[dict[str, Any], list[str], list[str]]:
    """A recipe's flat mapping with TRL's and the handbook's keys turned into ours: (mapping, notes, errors)."""
    from sft_recipes.recipe.data_aliases import datasets_from_aliases

    out = {k: v for k, v in given.items() if k not in ALIASES}
    notes: list[str] = []
    errors: list[str] = datasets_from_aliases(given, out, notes)
    for key, value in given.items():
        alias = ALIASES.get(key)
        if alias is None or key in DATA_KEYS:
            continue
        if key == "use_flash_attention_2":
            if value in (True, "true", "True"):
                out.setdefault("attn_implementation", "flash_attention_2")
            continue
        if key == "push_to_hub":
            if value in (True, "true", "True"):
                target = given.get("hub_model_id") or "ORG/NAME"
                notes.append(f"push_to_hub: training pushes nothing here; push the finished run with "
                             f"`sft-recipes export --run <output_dir> --push_to_hub {target}`")
            out["push_to_hub"] = False
            continue
        error = alias.translate(out, (key, value), notes) if alias.translate else None
        if error:
            errors.append(error)
    if any(isinstance(e, dict) and isinstance(e.get("columns"), list) and "chat_template_kwargs" in e["columns"]
           for e in out.get("datasets") or []):
        notes.append("columns: chat_template_kwargs: per-row template variables are not applied; every row renders "
                     "with the recipe's chat_template_kwargs (e.g. {enable_thinking: false})")
    if out.get("packing_strategy") == "ffd":
        out["packing_strategy"] = "bfd"
        notes.append("packing_strategy: ffd is TRL's old name of bfd (best-fit decreasing): bfd is used")
    return out, notes, errors


def alias_table() -> str:
    """The README's table: each key from TRL or the handbook and what it does here."""
    rows = ["| key | from | here |", "|---|---|---|"]
    rows += [f"| `{key}` | {alias.origin} | {alias.meaning} |" for key, alias in ALIASES.items()]
    rows += [f"| `{key}` | {origin} | same meaning |" for key, origin in PASSED_THROUGH.items()]
    return "\n".join(rows)


__all__ = ["ALIASES", "PASSED_THROUGH", "Alias", "translate_keys", "alias_table"]
