"""End to end against a real OpenAI-compatible server: ``transformers serve`` on 127.0.0.1 with a local model,
judged through ``sft-recipes judge``'s own entry point. The server's access log counts the requests."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from judge_server import free_port, generation, write_generations

from sft_recipes.evaluation.judge.cli import main as judge_main
from sft_recipes.evaluation.judge.runner import build_jobs, read_generations

pytestmark = pytest.mark.timeout(600)


def transformers_cli() -> str:
    exe = Path(sys.executable).with_name("transformers")
    if exe.exists():
        return str(exe)
    found = shutil.which("transformers")
    if not found:
        pytest.skip("transformers serve is not installed (pip install 'transformers[serving]')")
    return found


class ServedModel:
    def __init__(self, model_dir: Path, log: Path) -> None:
        self.model = str(model_dir)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.log = log
        env = os.environ | {"HF_HUB_OFFLINE": "1"}
        self._log_file = log.open("w")
        self.process = subprocess.Popen(
            [transformers_cli(), "serve", self.model, "--host", "127.0.0.1", "--port", str(self.port),
             "--device", "cpu", "--log-level", "info"],
            stdout=self._log_file, stderr=subprocess.STDOUT, env=env,
        )

    def wait_ready(self, seconds: float = 120) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"transformers serve exited:\n{self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2):
                    return
            except OSError:
                time.sleep(0.5)
        raise RuntimeError("transformers serve did not become ready")

    @property
    def completions_served(self) -> int:
        return self.log.read_text().count('"POST /v1/chat/completions HTTP/1.1" 200')

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self._log_file.close()


def serve(model_dir: Path, tmp_path_factory) -> ServedModel:
    server = ServedModel(model_dir, tmp_path_factory.mktemp("serve") / "server.log")
    try:
        server.wait_ready()
    except Exception:
        server.stop()
        raise
    return server


@pytest.fixture(scope="module")
def tiny_server(tiny_model_dir, tmp_path_factory):
    server = serve(tiny_model_dir, tmp_path_factory)
    yield server
    server.stop()


@pytest.fixture
def generations(tmp_path):
    rows = [
        generation(0, "The court affirmed the judgment.", "It was reversed.", reference="AFFIRMED"),
        generation(1, "The appeal was dismissed for lack of jurisdiction.", "Dismissed."),
    ]
    return write_generations(tmp_path / "generations.jsonl", rows)


def judge(server: ServedModel, generations: str, out: Path, *extra: str) -> int:
    return judge_main(["--generations", generations, "--backend", "openai", "--base-url", server.url,
                       "--model", server.model, "--no-api-key", "--out", str(out), "--concurrency", "2",
                       "--max-retries", "0", "--timeout", "120", "--no-progress", *extra])


def records(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "judgments.jsonl").read_text().splitlines()]


def exit_code(out: Path) -> int:
    """What the command must exit with for the rows it wrote: 0 all judged, 2 none, 1 some."""
    ok = [r["status"] == "ok" for r in records(out)]
    return 0 if all(ok) else 2 if not any(ok) else 1


def check_statuses_match_parsing(rows: list[dict], generations: str) -> None:
    """A row is ok exactly when its last reply parses, and its verdict is what the parser reads from it."""
    mode = rows[0]["mode"]
    models = sorted({m for r in rows for m in r["models"]}, key=["tuned", "base"].index)
    scale = rows[0].get("scale") or "1-10"
    jobs = {(j.row.id, j.models[0] if mode == "single" else j.order): j
            for j in build_jobs(read_generations(generations), mode, models, scale, None)}
    for r in rows:
        assert r["status"] in ("ok", "failed")
        assert r["attempts"] >= 1 and r["replies"] and r["usage"]["output_tokens"] > 0
        parsed = jobs[(r["id"], r["model"] if mode == "single" else r["order"])].parse(r["raw_reply"])
        assert (r["status"] == "ok") == parsed.ok and r["verdict"] == parsed.verdict
        if r["status"] == "failed":
            assert r["verdict"] is None and r["error"]
            assert r.get("score") is None and r.get("winner") is None


def test_single_and_pairwise_through_transformers_serve(tiny_server, generations, tmp_path):
    before = tiny_server.completions_served
    code = judge(tiny_server, generations, tmp_path / "single", "--mode", "single", "--max-tokens", "12",
                 "--max-reasks", "1")
    assert code == exit_code(tmp_path / "single")
    single = records(tmp_path / "single")
    assert len(single) == 4 and {r["model"] for r in single} == {"tuned", "base"}
    assert tiny_server.completions_served - before == sum(r["attempts"] for r in single)
    check_statuses_match_parsing(single, generations)
    assert {r["prompt_id"] for r in single} == {"single_1_10_v1", "single_1_10_ref_v1"}

    before = tiny_server.completions_served
    code = judge(tiny_server, generations, tmp_path / "pairwise", "--mode", "pairwise", "--models", "tuned,base",
                 "--max-tokens", "12", "--max-reasks", "0")
    assert code == exit_code(tmp_path / "pairwise")
    pairwise = records(tmp_path / "pairwise")
    assert sorted(r["order"] for r in pairwise) == ["AB", "AB", "BA", "BA"]
    assert tiny_server.completions_served - before == 4
    check_statuses_match_parsing(pairwise, generations)
    summary = json.loads((tmp_path / "pairwise" / "summary.json").read_text())
    failed = sum(r["status"] == "failed" for r in pairwise)
    assert summary["totals"]["parse_failures"] == failed

    # greedy decoding: unusable replies would only repeat, so a rerun sends nothing; --retry-failed sends them again
    before = tiny_server.completions_served
    rerun = ["--mode", "pairwise", "--models", "tuned,base", "--max-tokens", "12", "--max-reasks", "0"]
    assert judge(tiny_server, generations, tmp_path / "pairwise", *rerun) == code
    assert tiny_server.completions_served - before == 0
    assert judge(tiny_server, generations, tmp_path / "pairwise", *rerun, "--retry-failed") == code
    assert tiny_server.completions_served - before == failed
    assert sum(r["cached"] for r in records(tmp_path / "pairwise")) == 4 - failed


@pytest.mark.real_model
def test_real_judge_model_through_transformers_serve(embedded_dir, tmp_path_factory, generations, tmp_path):
    """The real 135M instruct model as judge: one judgment, whatever it decides, is recorded honestly."""
    server = serve(embedded_dir, tmp_path_factory)
    try:
        code = judge(server, generations, tmp_path / "out", "--mode", "single", "--scale", "0-100", "--limit", "1",
                     "--models", "tuned", "--max-tokens", "32", "--max-reasks", "0")
        assert code == exit_code(tmp_path / "out")
        rows = records(tmp_path / "out")
        assert len(rows) == 1 and server.completions_served == 1
        check_statuses_match_parsing(rows, generations)
    finally:
        server.stop()


def test_wrong_model_name_fails_with_the_servers_reason_and_is_not_resent(tiny_server, generations, tmp_path, capsys):
    """transformers serve pinned to one model answers 400 to any other name: the reason must reach the user."""
    def run(*extra):
        return judge_main(["--generations", generations, "--backend", "openai", "--base-url", tiny_server.url,
                           "--model", "JUDGE", "--no-api-key", "--out", str(tmp_path / "out"), "--mode", "pairwise",
                           "--max-retries", "2", "--no-progress", *extra])

    log_before = tiny_server.log.read_text().count("POST /v1/chat/completions")
    assert run() == 2
    rows = records(tmp_path / "out")
    assert len(rows) == 4 and all(r["status"] == "failed" for r in rows)
    assert all("HTTP 400: Server is pinned to" in r["error"] and "requested 'JUDGE'" in r["error"] for r in rows)
    sent = tiny_server.log.read_text().count("POST /v1/chat/completions") - log_before
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["totals"]["requests"] == sent == 4
    assert "Server is pinned to" in capsys.readouterr().err

    assert run() == 2  # deterministic: not sent again
    assert tiny_server.log.read_text().count("POST /v1/chat/completions") - log_before == 4
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["totals"]["not_resent"] == 4

