"""``sft-recipes judge`` as a user runs it: any table in (--data / --columns), exit codes with counts, the server's
reason for a refusal, requests counted as sent, and deterministic failures not sent again on a rerun."""

from __future__ import annotations

import csv
import json

import pytest
from judge_server import FakeJudgeServer, Reply, prompt_text

from sft_recipes.cli import main as cli_main
from sft_recipes.evaluation.judge.inputs import ColumnMap, JudgeError, read_table

# the shape of a public 100-row eval set: two models' answers beside the instruction, its input and the reference
ROWS = [
    {"instruction": "Rewrite the sentence in passive voice.", "input": "The cat chased the mouse.",
     "output": "The mouse was chased by the cat.", "model 1 response": "The mouse was chased by the cat.",
     "model 2 response": "The cat chased."},
    {"instruction": "Name the capital of France.", "input": "", "output": "Paris.",
     "model 1 response": "The capital of France is Paris.", "model 2 response": "Lyon."},
    {"instruction": "Convert 3 km to meters.", "input": "", "output": "3000 meters.",
     "model 1 response": "3 km is 3000 meters.", "model 2 response": "300 m"},
]
COLUMNS = "prompt=instruction+input,reference=output,models=model1:model 1 response,model2:model 2 response"


def answer(body, label):
    text = prompt_text(body)
    return text.split(f"[The Start of Assistant {label}'s Answer]\n")[1].split("\n[The End")[0]


def prefers_longer(body, n):
    a, b = answer(body, "A"), answer(body, "B")
    return Reply("Explanation.\n" + ("[[A]]" if len(a) > len(b) else "[[B]]"))


def judge(tmp_path, server_url, *extra):
    return cli_main(["judge", "--backend", "openai", "--base-url", server_url, "--model", "judge", "--no-api-key",
                     "--out", str(tmp_path / "out"), "--max-retries", "0", "--timeout", "5", "--no-progress", *extra])


def judgments(tmp_path):
    return [json.loads(line) for line in (tmp_path / "out" / "judgments.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("suffix", [".json", ".jsonl", ".csv", ".parquet"])
def test_any_table_judged_end_to_end(tmp_path, suffix, capsys):
    path = tmp_path / f"eval{suffix}"
    if suffix == ".json":
        path.write_text(json.dumps(ROWS, indent=1))
    elif suffix == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    elif suffix == ".csv":
        with path.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(ROWS[0]))
            writer.writeheader()
            writer.writerows(ROWS)
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(ROWS), path)
    with FakeJudgeServer(prefers_longer) as server:
        code = judge(tmp_path, server.url, "--data", str(path), "--columns", COLUMNS, "--mode", "pairwise")
    assert code == 0
    assert server.count == 6  # 3 prompts x 2 orders
    sent = [prompt_text(body) for body in server.requests]
    assert sum("Rewrite the sentence in passive voice.\n\nThe cat chased the mouse." in t for t in sent) == 2
    assert all("[The Start of Reference Answer]" in t for t in sent)  # reference column -> the reference prompt
    rows = judgments(tmp_path)
    assert {r["id"] for r in rows} == {"1", "2", "3"} and all(r["status"] == "ok" for r in rows)
    assert all(r["winner"] == "model1" for r in rows)
    assert rows[0]["source"].startswith(str(path) + ":")
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["pairwise"]["win_rate"] == 1.0 and summary["models"] == ["model1", "model2"]
    assert '"ok": 6' in capsys.readouterr().out


def test_column_map_parsing_and_errors(tmp_path):
    cm = ColumnMap.parse("prompt=q,models=a:ans a,b:ans b,id=uid")
    assert cm.prompt == ["q"] and cm.models == {"a": "ans a", "b": "ans b"} and cm.id == "uid" and cm.reference is None
    assert ColumnMap.parse("prompt=q,models=x,y").models == {"x": "x", "y": "y"}
    for bad, message in [("models=a:x", "prompt="), ("prompt=q", "models="), ("prompt=q,models=a:x,a:y", "unique"),
                         ("prompt=q,colour=red,models=a:x", "cannot read")]:
        with pytest.raises(JudgeError, match=message):
            ColumnMap.parse(bad)
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps({"q": "hi", "x": "a"}) + "\n" + json.dumps({"q": "yo", "x": ["list"]}) + "\n")
    with pytest.raises(JudgeError, match="no column 'y'"):
        read_table(str(path), ColumnMap.parse("prompt=q,models=x,y"))
    with pytest.raises(JudgeError, match=f"{path}:2: column 'x' must hold text"):
        read_table(str(path), ColumnMap.parse("prompt=q,models=x"))


def test_exit_codes_and_counts(tmp_path, capsys):
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    args = ["--data", str(path), "--columns", COLUMNS, "--mode", "single", "--max-reasks", "0"]

    model1 = {r["model 1 response"] for r in ROWS}

    def half(body, n):  # model 1's answers get a verdict, model 2's never do
        return Reply("Rating: [[8]]" if answer_single(body) in model1 else "Fine.")

    with FakeJudgeServer(half) as server:
        assert judge(tmp_path, server.url, *args, "--no-cache") == 1
    err = capsys.readouterr().err
    assert "3 of 6 judged, 3 failed" in err and "no verdict in the required format" in err

    with FakeJudgeServer(lambda body, n: Reply("no verdict here")) as server:
        assert judge(tmp_path, server.url, *args, "--no-cache") == 2
    assert "no verdict obtained: 0 of 6 judged, 6 failed" in capsys.readouterr().err

    with FakeJudgeServer(lambda body, n: Reply("Rating: [[5]]")) as server:
        assert judge(tmp_path, server.url, *args, "--no-cache") == 0


def answer_single(body):
    return prompt_text(body).split("[The Start of Assistant's Answer]\n")[1].split("\n[The End")[0]


PINNED = json.dumps({"detail": "Server is pinned to '/models/judge-1'; requested 'JUDGE'."}).encode()


def test_refusal_reason_recorded_counted_and_not_resent(tmp_path, capsys):
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    args = ["--data", str(path), "--columns", COLUMNS, "--mode", "pairwise"]
    with FakeJudgeServer(lambda body, n: Reply(status=400, body=PINNED)) as server:
        assert judge(tmp_path, server.url, *args, "--max-retries", "2") == 2
        assert server.count == 6  # a 400 is not retried by the client: one request per judgment
    captured = capsys.readouterr()
    assert "Server is pinned to '/models/judge-1'; requested 'JUDGE'." in captured.err
    rows = judgments(tmp_path)
    assert all("HTTP 400: Server is pinned to" in r["error"] and r["requests"] == 1 for r in rows)
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["totals"]["requests"] == 6 and summary["failures"][0]["count"] == 6
    assert "requests sent this run: 6" in captured.out and "failed x6: transport: BadRequestError: HTTP 400" in captured.out

    with FakeJudgeServer(lambda body, n: Reply(status=400, body=PINNED)) as server:
        assert judge(tmp_path, server.url, *args) == 2
        assert server.count == 0  # the same request, refused the same way: not sent again
    assert "6 not re-sent" in capsys.readouterr().err

    with FakeJudgeServer(lambda body, n: Reply("[[C]]")) as server:
        assert judge(tmp_path, server.url, *args, "--retry-failed") == 0
        assert server.count == 6


def test_transient_failures_are_counted_per_request_and_resent(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps(ROWS[0]) + "\n")
    args = ["--data", str(path), "--columns", COLUMNS, "--mode", "pairwise", "--max-retries", "2"]
    with FakeJudgeServer(lambda body, n: Reply(status=503, headers={"retry-after-ms": "5"})) as server:
        assert judge(tmp_path, server.url, *args) == 2
        assert server.count == 6  # 2 judgments x (1 + 2 retries)
    assert [r["requests"] for r in judgments(tmp_path)] == [3, 3]
    with FakeJudgeServer(lambda body, n: Reply("[[A]]")) as server:
        assert judge(tmp_path, server.url, *args) == 0
        assert server.count == 2  # a 503 may pass: asked again without --retry-failed


def test_json_verdict_requested_and_read(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps(ROWS[1]) + "\n")

    def structured(body, n):
        schema = body.get("response_format", {}).get("json_schema", {}).get("schema", {})
        assert set(schema.get("required", [])) == {"explanation", "verdict"}
        return Reply(json.dumps({"explanation": "Paris is right; [[B]] would be wrong.", "verdict": "A"}))

    with FakeJudgeServer(structured) as server:
        assert judge(tmp_path, server.url, "--data", str(path), "--columns", COLUMNS, "--mode", "pairwise",
                     "--json-verdict") == 0
    assert {r["winner"] for r in judgments(tmp_path)} == {"model1", "model2"}  # "A" in both orders
