"""Export a run directory: the adapter (or the merged model) with tokenizer, stop tokens and a model card.

The export is built in a hidden sibling directory and renamed into place only when every step, the Hub push
included, has succeeded: a failure never leaves a half-written export behind.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sft_recipes.export.card import CardInputs, render_model_card
from sft_recipes.export.errors import ExportError
from sft_recipes.export.gguf_file import GGUF_TYPES, check_converter, gguf_name, write_gguf
from sft_recipes.export.hub import check_can_push, push_folder
from sft_recipes.export.ollama import MODELFILE, write_modelfile
from sft_recipes.export.merge import (
    check_new_tokens_trained,
    merge_adapter,
    merge_dtype,
)
from sft_recipes.export.run_dir import (
    ADAPTER_CONFIG,
    ADAPTER_WEIGHTS,
    RunDir,
    read_run_dir,
)
from sft_recipes.chat.template_info import stop_token_ids, template_info_for
from sft_recipes.export.stop_tokens import generation_config_for
from sft_recipes.inference.models import EMBEDDED_HUB_ID, ResolvedModel, resolve_model

FULL_MODEL_FILES = ("config.json", "*.safetensors", "*.safetensors.index.json")


@dataclass
class ExportResult:
    path: Path
    merged: bool
    files: list[str]
    commit_url: str | None = None
    merge_max_abs_logit_diff: float | None = None
    gguf_file: str | None = None


def default_out(run_dir: str | Path, merge: bool) -> Path:
    return Path(run_dir) / "export" / ("merged" if merge else "adapter")


def export_run(
    run_dir: str | Path,
    *,
    out: str | Path | None = None,
    merge: bool = False,
    base: str | None = None,
    dtype: str | None = None,
    push_to_hub: str | None = None,
    private: bool = False,
    commit_message: str | None = None,
    overwrite: bool = False,
    token: str | None = None,
    endpoint: str | None = None,
    gguf: str | None = None,
) -> ExportResult:
    """Write the export of ``run_dir`` to ``out`` (default ``<run>/export/adapter`` or ``.../merged``), then push.

    ``base`` overrides where the base model is loaded from (e.g. the full-precision original of a base that the
    recipe names as a pre-quantized repo); ``dtype`` overrides the merge precision. ``gguf`` (f16, q8_0, ...) also
    writes a GGUF of the merged model and an Ollama Modelfile into the export.
    """
    run = read_run_dir(run_dir)
    if merge and not run.is_adapter:
        raise ExportError(f"nothing to merge: {run.path} holds a full model, not an adapter")
    if gguf is not None:
        if gguf not in GGUF_TYPES:
            raise ExportError(f"unknown GGUF type {gguf!r} (expected one of {', '.join(GGUF_TYPES)})")
        check_converter()
    push_token = check_can_push(push_to_hub, token) if push_to_hub else None
    out = Path(out).expanduser() if out is not None else default_out(run.path, merge)
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not overwrite:
        raise ExportError(f"output directory already exists: {out} (pass --overwrite or another --out)")
    dtype = merge_dtype(run.recipe, dtype) if merge else None
    resolved = resolve_model(base or run.base_name)

    staging = out.with_name(f".{out.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        result = _write_export(run, resolved, staging, out, merge, dtype, push_to_hub, gguf)
        if push_to_hub:
            _say(f"pushing the export to {push_to_hub} ...")
            result.commit_url = push_folder(
                staging, push_to_hub, token=push_token, private=private,
                commit_message=commit_message, endpoint=endpoint,
            )
        _replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    result.path = out
    return result


def _write_export(
    run: RunDir, resolved: ResolvedModel, target: Path, out: Path, merge: bool, dtype: str | None,
    repo_id: str | None, gguf: str | None = None,
) -> ExportResult:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(run.path))
    if not getattr(tokenizer, "chat_template", None):
        raise ExportError(f"the run's tokenizer has no chat template: {run.path}")
    local_base = Path(resolved.path) if Path(resolved.path).is_dir() else None
    if run.is_adapter and local_base is not None:
        base_vocab = json.loads((local_base / "config.json").read_text(encoding="utf-8")).get("vocab_size")
        if base_vocab:
            check_new_tokens_trained(tokenizer, int(base_vocab), run.trained_token_ids, run.path)
    template = template_info_for(tokenizer)  # what the run trained on (saved beside its tokenizer)
    generation_config = generation_config_for(tokenizer, local_base, template)
    base_hub_id = resolved.base_hub_id or (EMBEDDED_HUB_ID if resolved.kind == "embedded" else None)

    merge_diff = _write_model(run, resolved, target, merge, dtype, tokenizer, generation_config, base_hub_id)
    tokenizer.save_pretrained(str(target))
    template.save(target)

    stop_ids = stop_token_ids(tokenizer, template, generation_config.eos_token_id)
    stops = tokenizer.convert_ids_to_tokens(stop_ids)
    gguf_file = None
    if gguf is not None:
        gguf_file = gguf_name(run.path.resolve().name, gguf)
        _write_gguf(run, resolved, target, gguf_file, gguf, tokenizer, dtype, merge or not run.is_adapter)
        write_modelfile(target, gguf_file, tokenizer, stops + list(template.stop_strings), template.template_kwargs)
    card = render_model_card(
        CardInputs(
            run=run,
            base_display=base_hub_id or resolved.display_name,
            base_hub_id=base_hub_id,
            base_load_id=base_hub_id or str(resolved.path),
            model_ref=repo_id or str(out.resolve()),
            merged=merge,
            repo_id=repo_id,
            embedded_base=resolved.kind == "embedded",
            merge_check=merge_diff,
            merge_dtype=dtype,
            stop_tokens=stops,
            gguf_file=gguf_file,
        )
    )
    (target / "README.md").write_text(card, encoding="utf-8")
    files = sorted(str(p.relative_to(target)) for p in target.rglob("*") if p.is_file())
    return ExportResult(path=target, merged=merge, files=files, merge_max_abs_logit_diff=merge_diff,
                        gguf_file=gguf_file)


def _write_model(run: RunDir, resolved: ResolvedModel, target: Path, merge: bool, dtype: str | None, tokenizer: Any,
                 generation_config: Any, base_hub_id: str | None) -> float | None:
    """The merged model, the adapter or the full model's files; the merge check's logit difference when merged."""
    if merge:
        _say(f"merging the adapter into {resolved.display_name} ({dtype}, full precision) ...")
        merged = merge_adapter(resolved.path, run.path, tokenizer, dtype)
        merged.model.generation_config = generation_config
        merged.model.save_pretrained(str(target))
        _say(f"merge check: max |logit difference| vs adapter-on-base = {merged.max_abs_logit_diff:.2e}")
        return merged.max_abs_logit_diff
    if run.is_adapter:
        shutil.copy2(run.path / ADAPTER_WEIGHTS, target / ADAPTER_WEIGHTS)
        adapter_config = dict(run.adapter_config or {})
        if base_hub_id:  # so that users of the export load the base from the Hub, not a path on this machine
            adapter_config["base_model_name_or_path"] = base_hub_id
        (target / ADAPTER_CONFIG).write_text(json.dumps(adapter_config, indent=2, sort_keys=True) + "\n")
    else:
        for pattern in FULL_MODEL_FILES:
            for f in sorted(run.path.glob(pattern)):
                shutil.copy2(f, target / f.name)
    generation_config.save_pretrained(str(target))
    return None


def _write_gguf(run: RunDir, resolved: ResolvedModel, target: Path, gguf_file: str, outtype: str,
                tokenizer: Any, dtype: str | None, target_is_full: bool) -> None:
    """The GGUF of the full model: the export itself when it is one, else the adapter merged in a scratch dir.
    The end-of-turn token the run trained on is recorded as the GGUF's end-of-turn id."""
    template = template_info_for(tokenizer)
    eot = template.end_of_turn_ids[0] if template.end_of_turn_ids else None
    gguf_path = target / gguf_file
    _say(f"writing {gguf_file} with llama.cpp's converter ...")
    if target_is_full:
        write_gguf(target, gguf_path, outtype, eot)
        return
    scratch = target.with_name(f".{target.name}.gguf-merge")
    shutil.rmtree(scratch, ignore_errors=True)
    try:
        merged = merge_adapter(resolved.path, run.path, tokenizer, dtype or merge_dtype(run.recipe))
        merged.model.save_pretrained(str(scratch))
        tokenizer.save_pretrained(str(scratch))
        write_gguf(scratch, gguf_path, outtype, eot)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _replace(staging: Path, out: Path) -> None:
    """Move the finished export into place; an existing export is swapped out only after that succeeds."""
    old = out.with_name(f".{out.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if out.exists():
        out.rename(old)
    staging.rename(out)
    shutil.rmtree(old, ignore_errors=True)


def _say(message: str) -> None:
    print(f"[sft-recipes] {message}", flush=True)


def describe(result: ExportResult) -> dict[str, Any]:
    """What the command prints at the end (JSON), for people and scripts."""
    return {
        "path": str(result.path),
        "merged": result.merged,
        "files": result.files,
        "commit_url": result.commit_url,
        "merge_max_abs_logit_diff": result.merge_max_abs_logit_diff,
        "gguf_file": result.gguf_file,
        "modelfile": MODELFILE if result.gguf_file else None,
    }
