"""The benchmark runs end to end on a tiny model and reports what it measured correctly (not how fast it is)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONTENDERS = ("classic", "trl", "trl_group_by_length", "trl_padding_free", "trl_packing", "sft_recipes")
TRL_RUNS = ("trl", "trl_group_by_length", "trl_padding_free", "trl_packing")
FIELDS = ("examples", "steps", "seconds_per_epoch", "useful_tokens", "processed_tokens", "trained_tokens",
          "non_pad_share", "useful_tokens_per_s", "peak_rss_mb", "per_round_useful_tokens_per_s", "settings")


@pytest.fixture(scope="module")
def tiny_run(tiny_model_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("bench-results")
    proc = subprocess.run(
        [sys.executable, "benchmarks/run.py", "--tiny", "--model", str(tiny_model_dir), "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    files = sorted(out.iterdir())
    result = json.loads(next(f for f in files if f.suffix == ".json").read_text())
    return out, files, result


def test_writes_json_markdown_and_plot(tiny_run):
    out, files, result = tiny_run
    suffixes = {f.suffix for f in files}
    assert suffixes == {".json", ".md", ".png"}
    assert all(f.stem.endswith("-tiny") for f in files), "a tiny run must never overwrite a real result"
    md = next(f for f in files if f.suffix == ".md").read_text()
    for label in ("(a) classic loop", "(b) vanilla TRL", "(b') TRL + group_by_length", "(b') TRL + padding_free",
                  "(b') TRL + packing (bfd)", "(b') TRL best on these rows", "(c) sft-recipes", "FLOP efficiency",
                  "Data preparation"):
        assert label in md
    assert next(f for f in files if f.suffix == ".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_every_contender_reports_its_fields(tiny_run):
    _, _, result = tiny_run
    assert set(result["training"]) == {"short", "long_tail"}
    for variant, block in result["training"].items():
        for name in CONTENDERS:
            c = block["contenders"][name]
            missing = [f for f in FIELDS if f not in c]
            assert not missing, f"{variant}/{name} lacks {missing}"
            assert c["seconds_per_epoch"] > 0 and c["peak_rss_mb"] > 100 and c["steps"] >= 1


def test_padding_and_token_counts_are_consistent(tiny_run):
    _, _, result = tiny_run
    batch = result["settings"]["batch_size"]
    for variant, block in result["training"].items():
        cs = block["contenders"]
        max_length = block["max_length"]
        for name, c in cs.items():
            assert c["non_pad_share"] == pytest.approx(c["useful_tokens"] / c["processed_tokens"], abs=1e-4)
            assert c["useful_tokens_per_s"] == pytest.approx(c["useful_tokens"] / c["seconds_per_epoch"], rel=0.01)
            assert 0 < c["trained_tokens"] < c["useful_tokens"] <= c["processed_tokens"]
        # (a) pads every row to max_length; (b) and (c) pad to the longest row of each batch
        a = cs["classic"]
        assert a["processed_tokens"] == a["examples"] * max_length
        for r in block["rounds"]:
            for name in (*TRL_RUNS, "sft_recipes"):
                shapes = r[name]["batch_shapes"]
                assert sum(b * n for b, n in shapes) == r[name]["padded_tokens"]
                assert all(b <= batch for b, _ in shapes)
        # every TRL run and (c) train on exactly the same rows: same examples, useful and trained tokens
        for name in TRL_RUNS:
            assert cs[name]["examples"] == cs["sft_recipes"]["examples"] == result["settings"][
                "rows" if variant == "short" else "long_rows"]
            assert cs[name]["useful_tokens"] == cs["sft_recipes"]["useful_tokens"], name
            assert cs[name]["trained_tokens"] == cs["sft_recipes"]["trained_tokens"], name
        # padding-free TRL runs pad nothing; (b') is the fastest TRL run and (c)/(b') is measured against it
        assert cs["trl_padding_free"]["non_pad_share"] == cs["trl_packing"]["non_pad_share"] == 1.0
        best = max(TRL_RUNS, key=lambda n: cs[n]["useful_tokens_per_s"])
        assert block["ratios"]["b_best"] == best
        assert block["ratios"]["c_over_b_best"] == pytest.approx(
            cs["sft_recipes"]["useful_tokens_per_s"] / cs[best]["useful_tokens_per_s"], rel=0.01)
        # (c) groups rows of similar length: it never pads more than random batches of the same rows
        assert cs["sft_recipes"]["processed_tokens"] <= cs["trl"]["processed_tokens"]
        ratio = cs["sft_recipes"]["useful_tokens_per_s"] / cs["classic"]["useful_tokens_per_s"]
        assert block["ratios"]["c_over_a"] == pytest.approx(ratio, rel=0.01)


def test_flops_prep_and_targets_are_reported(tiny_run):
    _, _, result = tiny_run
    flops = result["flops"]
    assert "2*F + 3*A + 3*S + 2*H" in flops["formula"]
    assert flops["gemm_gflops"] > 0
    for variant in ("short", "long_tail"):
        v = flops["variants"][variant]
        # efficiency is stored to 4 decimals: a tiny run's 0.0033 is 1.4% off its exact ratio, so the tolerance
        # is the rounding's (5e-5) on top of 1%
        assert v["achieved_gflops"] > 0 and 0 < v["efficiency"] == pytest.approx(
            v["achieved_gflops"] / flops["gemm_gflops"], rel=0.01, abs=5e-5)
    prep = result["prep"]["contenders"]
    for name in ("sft_recipes", "trl"):
        assert prep[name]["seconds"] > 0 and prep[name]["rows_out"] == result["prep"]["rows"]
    # the same rows, template and assistant-only labels: TRL's generation-marker masks and sft-recipes' labels agree
    assert prep["sft_recipes"]["trained_tokens"] == prep["trl"]["trained_tokens"] > 0
    names = " ".join(t["name"] for t in result["targets"])
    for target in ("(c)/(a)", "(c)/(b)", "non-pad share", "FLOP efficiency", "<= 60 s", "not slower than TRL",
                   "vs TRL best (short", "vs TRL best (long_tail"):
        assert target in names


# --- the measuring parts on their own ----------------------------------------------------------------------------


def test_batch_meter_counts_padding_labels_and_causal_pairs():
    import torch

    from benchmarks.measure import BatchMeter

    meter = BatchMeter()
    ids = torch.zeros((2, 5), dtype=torch.long)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
    labels = torch.tensor([[-100, 5, 6, -100, -100], [-100, -100, 7, 8, 9]])
    meter.record(ids, attention_mask=mask, labels=labels)
    s = meter.stats
    assert (s.padded_tokens, s.useful_tokens, s.trained_tokens) == (10, 8, 5)
    assert s.causal_pairs == 3 * 4 // 2 + 5 * 6 // 2
    assert s.non_pad_share == pytest.approx(0.8)
    # a padding-free row: sequence boundaries come from position_ids restarting at 0
    meter.record(torch.zeros((1, 6), dtype=torch.long), position_ids=torch.tensor([[0, 1, 2, 0, 1, 2]]))
    assert s.sequences == 4 and s.useful_tokens == 14 and s.padded_tokens == 16


def test_flop_shapes_match_the_model_and_its_lora(tiny_model_dir):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from benchmarks.flops import Shapes, lora_step_flops

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    shapes = Shapes.from_config(model.config)
    linear = sum(m.weight.numel() for name, m in model.named_modules()
                 if isinstance(m, torch.nn.Linear) and ".layers." in name)
    assert shapes.linear_params == linear
    peft_model = get_peft_model(model, LoraConfig(r=4, target_modules="all-linear"))
    trainable = sum(p.numel() for p in peft_model.parameters() if p.requires_grad)
    assert shapes.lora_params(4) == trainable
    f = lora_step_flops(shapes, 4, tokens=100, causal_pairs=1000, labelled=40)
    assert f["frozen_linear"] == 4 * shapes.linear_params * 100  # forward + activation grads: 4NT, not 6NT
    assert f["total"] == pytest.approx(f["frozen_linear"] + f["lora"] + f["attention"] + f["lm_head"])


def test_stratified_subset_keeps_the_length_profile():
    from benchmarks.contenders import stratified_subset

    lengths = [50] * 28 + [800] * 4  # one row in eight is long
    picked = stratified_subset(lengths, 8)
    assert len(set(picked)) == 8
    assert sum(lengths[i] == 800 for i in picked) == 1


def test_synthetic_rows_have_the_instruction_data_length_profile(smol_tokenizer):
    from benchmarks.data import alpaca_rows, length_profile, templated_lengths

    rows = alpaca_rows(600, seed=3)
    assert len({(r["instruction"], r["input"]) for r in rows}) == 600
    short = length_profile(templated_lengths(rows, smol_tokenizer))
    assert 50 <= short["mean"] <= 70 and short["max"] <= 120
    tail = length_profile(templated_lengths(alpaca_rows(80, seed=3, long_share=0.125), smol_tokenizer))
    assert tail["over_400"] == 10 and tail["max"] <= 1024


def test_padding_by_size_is_reported(tiny_run):
    _, _, result = tiny_run
    for variant, v in result["padding"]["variants"].items():
        assert v["by_rows"], variant
        for row in v["by_rows"]:
            # the same seeded permutation: sorting inside windows can only remove padding
            assert 0 < row["pad_to_max_length"] <= row["random"] <= row["group_by_length"] <= 1


def test_non_pad_share_counts_pad_to_longest_and_to_max_length():
    from benchmarks.padding import non_pad_share

    lengths = [10, 30, 10, 30]
    assert non_pad_share(lengths, [0, 1, 2, 3], batch_size=2) == pytest.approx(80 / 120)  # mixed batches
    assert non_pad_share(lengths, [0, 2, 1, 3], batch_size=2) == 1.0  # grouped by length: no padding
    assert non_pad_share(lengths, [0, 2, 1], batch_size=2) == pytest.approx(50 / 50)  # a short last batch
    assert non_pad_share(lengths, [0, 1, 2, 3], batch_size=2, pad_to=64) == pytest.approx(80 / 256)
