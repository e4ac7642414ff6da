"""Judge meta-evaluation against hand-computed values."""

from __future__ import annotations

import json
import math

import pytest

from sft_recipes.evaluation.meta_eval import (
    MetaEvalError,
    cohen_kappa,
    label_agreement,
    meta_eval,
    score_correlations,
)

JUDGE = [1, 2, 3, 4, 5]
HUMAN = [2, 4, 5, 4, 5]


def test_correlations_match_hand_computation():
    c = score_correlations(JUDGE, HUMAN)
    # deviations (-2,-1,0,1,2) and (-2,0,1,0,1): 6 / sqrt(10 * 6)
    assert c["pearson"] == pytest.approx(6 / math.sqrt(60))
    # human ranks (1, 2.5, 4.5, 2.5, 4.5): 7 / sqrt(10 * 9)
    assert c["spearman"] == pytest.approx(7 / math.sqrt(90))
    # 7 concordant, 1 discordant, 2 pairs tied in the human scores: tau-b = 6 / sqrt(10 * 8)
    assert c["kendall"] == pytest.approx(6 / math.sqrt(80))
    assert c["n"] == 5
    assert score_correlations([3, 3, 3], [1, 2, 3])["pearson"] is None  # undefined, not 0
    with pytest.raises(MetaEvalError):
        score_correlations([1, 2], [1])


def test_labels_agreement_and_kappa_match_hand_computation():
    judge = ["A", "A", "B", "tie", "B", "A"]
    human = ["A", "B", "B", "tie", "A", "A"]
    # observed 4/6; chance (3*3 + 2*2 + 1*1) / 36 = 14/36; kappa = (24 - 14) / (36 - 14)
    assert cohen_kappa(judge, human) == pytest.approx(10 / 22)
    report = label_agreement(judge, human)
    assert report["agreement_with_ties"] == pytest.approx(4 / 6)
    assert report["n_without_ties"] == 5 and report["agreement_without_ties"] == pytest.approx(3 / 5)
    assert cohen_kappa(["A", "B"], ["A", "B"]) == pytest.approx(1.0)
    assert cohen_kappa(["A", "B"], ["B", "A"]) == pytest.approx(-1.0)
    assert cohen_kappa(["A", "A"], ["A", "A"]) is None  # a single label: chance agreement is already 1


def write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_meta_eval_single_joins_on_id_and_model(tmp_path):
    judgments = [{"mode": "single", "id": f"q{i}", "model": "tuned", "status": "ok", "score": s}
                 for i, s in enumerate(JUDGE)]
    judgments.append({"mode": "single", "id": "q9", "model": "tuned", "status": "failed", "score": None})
    references = [{"id": f"q{i}", "model": "tuned", "score": s} for i, s in enumerate(HUMAN)]
    references.append({"id": "q9", "model": "tuned", "score": 1})
    report = meta_eval(write(tmp_path / "j.jsonl", judgments), write(tmp_path / "r.jsonl", references))
    assert report["matched"] == 5 and report["references"] == 6  # the failed judgment is not a score
    assert report["pearson"] == pytest.approx(6 / math.sqrt(60))


def test_meta_eval_pairwise_uses_both_orders(tmp_path):
    def pair(pid, first, second):
        return [{"mode": "pairwise", "id": pid, "order": o, "status": "ok", "winner": w}
                for o, w in (("AB", first), ("BA", second))]

    judgments = pair("q0", "tuned", "tuned") + pair("q1", "tuned", "base") + pair("q2", "base", "base")
    references = [{"id": "q0", "winner": "tuned"}, {"id": "q1", "winner": "tie"}, {"id": "q2", "winner": "tuned"}]
    report = meta_eval(write(tmp_path / "j.jsonl", judgments), write(tmp_path / "r.jsonl", references))
    # judge labels: tuned, tie (orders disagree), base
    assert report["agreement_with_ties"] == pytest.approx(2 / 3)
    assert report["n_without_ties"] == 2 and report["agreement_without_ties"] == pytest.approx(1 / 2)
    with pytest.raises(MetaEvalError, match="r.jsonl:1"):
        meta_eval(tmp_path / "j.jsonl", write(tmp_path / "r.jsonl", [{"id": "q0"}]))


def test_matches_scipy_on_hand_made_lists():
    from scipy import stats

    judge = [7, 3, 8, 5, 9, 2, 6, 6, 4, 8, 1, 7]
    human = [6, 4, 9, 5, 7, 1, 7, 5, 3, 9, 2, 8]
    c = score_correlations(judge, human)
    assert c["pearson"] == pytest.approx(stats.pearsonr(judge, human).statistic)
    assert c["spearman"] == pytest.approx(stats.spearmanr(judge, human).statistic)
    assert c["kendall"] == pytest.approx(stats.kendalltau(judge, human).statistic)


def single_judgments(scores, model="tuned"):
    return [{"mode": "single", "id": f"q{i}", "model": model, "status": "ok" if s is not None else "failed",
             "score": s} for i, s in enumerate(scores)]


def test_meta_eval_command_with_a_plain_list_and_seeded_bootstrap(tmp_path, capsys):
    from sft_recipes.cli import main as cli_main

    judge = [7, 3, 8, 5, 9, 2, 6, 6, 4, 8, 1, None]
    human = [6, 4, 9, 5, 7, 1, 7, 5, 3, 9, 2, 8]
    jpath = write(tmp_path / "judgments.jsonl", single_judgments(judge))
    ref = tmp_path / "human.json"
    ref.write_text(json.dumps(human))  # aligned by position with the judgments file
    out = tmp_path / "meta"
    assert cli_main(["meta-eval", "--judgments", str(jpath), "--reference", str(ref), "--out", str(out),
                     "--seed", "3", "--resamples", "500"]) == 0
    report = json.loads((out / "meta_eval.json").read_text())
    assert report["matched"] == 11  # the failed judgment has no score
    from scipy import stats

    assert report["spearman"] == pytest.approx(stats.spearmanr(judge[:11], human[:11]).statistic)
    low, high = report["ci95"]["spearman"]
    assert low < report["spearman"] < high <= 1.0
    again = meta_eval(jpath, ref, seed=3, resamples=500)
    assert again["ci95"] == report["ci95"]  # seeded
    assert meta_eval(jpath, ref, seed=4, resamples=500)["ci95"] != report["ci95"]
    assert (out / "meta_eval.png").read_bytes()[:4] == b"\x89PNG"
    assert "| spearman |" in capsys.readouterr().out and "95% CI" in (out / "meta_eval.md").read_text()
    ref.write_text(json.dumps(human[:5]))
    with pytest.raises(MetaEvalError, match="5 items, the judgments file 12"):
        meta_eval(jpath, ref)


def test_meta_eval_pairwise_kappa_interval(tmp_path):
    rows, refs = [], []
    labels = ["tuned", "base", "tie"]
    for i in range(30):
        winner = labels[i % 3]
        judged = winner if i % 5 else labels[(i + 1) % 3]  # agrees on 4 of 5
        rows += [{"mode": "pairwise", "id": f"q{i}", "order": o, "status": "ok", "winner": judged} for o in ("AB", "BA")]
        refs.append({"id": f"q{i}", "winner": winner})
    report = meta_eval(write(tmp_path / "j.jsonl", rows), write(tmp_path / "r.jsonl", refs), seed=1, resamples=300)
    assert report["agreement_with_ties"] == pytest.approx(24 / 30)
    judge_labels = [labels[i % 3] if i % 5 else labels[(i + 1) % 3] for i in range(30)]
    assert report["cohen_kappa"] == pytest.approx(cohen_kappa(judge_labels, [labels[i % 3] for i in range(30)]))
    low, high = report["ci95"]["cohen_kappa"]
    assert low < report["cohen_kappa"] < high
