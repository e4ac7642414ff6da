"""Hub push against a local fake Hub (tests/fake_hub.py): the files that arrive, a missing token, a server error.

Pushing runs ``python -m sft_recipes.export`` in a subprocess: huggingface_hub reads HF_ENDPOINT and
HF_HUB_OFFLINE when it is imported, and this test session runs offline (conftest.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from fake_hub import FakeHub

from sft_recipes.export import HubPushError
from sft_recipes.export.hub import check_can_push

TOKEN = "hf_fake_token_for_tests"
REPO = "court-lab/smollm2-court-lora"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, tiny_model_dir, smol_tokenizer) -> Path:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32),
                           LoraConfig(r=4, target_modules="all-linear", task_type="CAUSAL_LM"))
    run = tmp_path_factory.mktemp("run")
    model.save_pretrained(run)
    smol_tokenizer.save_pretrained(run)
    (run / "recipe.yaml").write_text(yaml.safe_dump({"model_name_or_path": str(tiny_model_dir), "lora_r": 4}))
    (run / "summary.json").write_text(json.dumps({"train_loss": 1.5, "global_step": 8}))
    return run


def export_cli(args: list[str], hub_url: str, home: Path, token: str | None = TOKEN) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("HF_TOKEN", "HF_HUB_OFFLINE", "HF_OIDC_RESOURCE")}
    env.update(HF_ENDPOINT=hub_url, HF_HOME=str(home), HF_HUB_DISABLE_TELEMETRY="1",
               HF_HUB_DISABLE_PROGRESS_BARS="1", PYTHONPATH=str(Path(__file__).parents[1]))
    if token:
        env["HF_TOKEN"] = token
    return subprocess.run([sys.executable, "-m", "sft_recipes.export", *args], env=env, capture_output=True,
                          text=True, timeout=300)


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error: ")]


def test_push_uploads_every_exported_file(run_dir, tmp_path):
    out = tmp_path / "export"
    with FakeHub(TOKEN) as hub:
        done = export_cli(["--run", str(run_dir), "--out", str(out), "--push_to_hub", REPO, "--private",
                           "--commit_message", "First court adapter"], hub.url, tmp_path / "hf-home")
        assert done.returncode == 0, done.stderr
        repo = hub.repos[REPO]
    local = {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert {"adapter_model.safetensors", "adapter_config.json", "README.md", "generation_config.json"} <= set(local)
    assert repo.files == local  # same names, same bytes
    assert repo.private is True
    assert repo.commits == ["First court adapter"]
    assert json.loads(done.stdout[done.stdout.index("{"):])["commit_url"].startswith(f"{hub.url}/{REPO}/commit/")
    assert hub.readme_metadata and hub.readme_metadata[0]["library_name"] == "peft"
    assert f"peft={REPO}" in local["README.md"].decode()  # the card points at the Hub repo it was pushed to


def test_push_to_an_existing_repo_adds_a_commit(run_dir, tmp_path):
    with FakeHub(TOKEN) as hub:
        for i in (1, 2):
            done = export_cli(["--run", str(run_dir), "--out", str(tmp_path / "export"), "--overwrite",
                               "--push_to_hub", REPO], hub.url, tmp_path / "hf-home")
            assert done.returncode == 0, done.stderr
        assert len(hub.repos[REPO].commits) == 2  # create_repo(exist_ok=True) accepted the 409


def test_push_without_a_token_fails_before_exporting(run_dir, tmp_path):
    out = tmp_path / "export"
    with FakeHub(TOKEN) as hub:
        done = export_cli(["--run", str(run_dir), "--out", str(out), "--push_to_hub", REPO], hub.url,
                          tmp_path / "empty-hf-home", token=None)
        assert hub.requests == []
    assert done.returncode == 1
    assert error_lines(done.stderr) == [
        "error: no Hugging Face token: run `hf auth login` or set HF_TOKEN, then push again"
    ]
    assert not out.exists() and not list(tmp_path.glob(".export*"))


def test_server_error_leaves_no_local_export(run_dir, tmp_path):
    out = tmp_path / "export"
    with FakeHub(TOKEN, fail_commit_with=500) as hub:
        done = export_cli(["--run", str(run_dir), "--out", str(out), "--push_to_hub", REPO], hub.url,
                          tmp_path / "hf-home")
        assert hub.repos[REPO].files == {}
    assert done.returncode == 1
    [line] = error_lines(done.stderr)
    assert line.startswith(f"error: push to {REPO} failed: ") and "500" in line
    assert "working hard to fix this" in line  # the server's own message is passed on
    assert "Traceback" not in done.stderr
    assert not out.exists() and not list(tmp_path.glob(".export*"))


def test_wrong_token_is_one_line(run_dir, tmp_path):
    with FakeHub(TOKEN) as hub:
        done = export_cli(["--run", str(run_dir), "--out", str(tmp_path / "export"), "--push_to_hub", REPO],
                          hub.url, tmp_path / "hf-home", token="hf_wrong")
    [line] = error_lines(done.stderr)
    assert done.returncode == 1 and "401" in line and not (tmp_path / "export").exists()


def test_push_checks_fail_early_in_process():
    with pytest.raises(HubPushError, match="expects ORG/NAME"):
        check_can_push("a/b/c", token="t")
    with pytest.raises(HubPushError, match="invalid Hub repository id"):
        check_can_push("org/bad name", token="t")
    # this test session runs with HF_HUB_OFFLINE=1 (conftest.py): pushing must say so instead of failing later
    with pytest.raises(HubPushError, match="offline mode is on"):
        check_can_push("org/name", token="t")
