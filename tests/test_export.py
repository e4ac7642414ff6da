"""Export: the adapter reloads with the same logits, the merge matches adapter-on-base, stop tokens and the card.

Runs are built here the way training leaves them: a LoRA on the tiny model with non-zero B weights (so the
adapter changes the logits), saved with its tokenizer, a recipe.yaml, metrics.jsonl and summary.json.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import torch
import yaml
from helpers import bpe_tokenizer

from sft_recipes.export import ExportError, export_run, load_adapter_model
from sft_recipes.export.card import eval_table
from sft_recipes.export.stop_tokens import end_of_turn_ids

CHATML = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
METRICS = [
    {"step": 10, "loss": 2.5, "learning_rate": 0.0002, "epoch": 0.25},
    {"step": 20, "loss": 1.75, "learning_rate": 0.00015, "epoch": 0.5},
    {"step": 20, "eval_loss": 1.625, "epoch": 0.5},
    {"step": 40, "loss": 0.8125, "learning_rate": 0.00005, "epoch": 1.0},
    {"step": 40, "eval_loss": 0.9375, "epoch": 1.0},
]
SUMMARY = {"train_loss": 1.6875, "global_step": 40, "train_runtime": 12.5, "epoch": 1.0}
DATA_REPORT = {"splits": {"train": {"rows": 340}, "validation": {"rows": 40}, "test": {"rows": 20}}, "rejects": 7}
EVAL_METRICS = {
    "base": {"summarize": {"rougeL": 0.25}, "holding": {"exact_match": 0.125}, "held_out_loss": 2.75},
    "tuned": {"summarize": {"rougeL": 0.5}, "holding": {"exact_match": 0.625}, "held_out_loss": 1.375},
}


def recipe_for(base: str, **extra) -> dict:
    recipe = {
        "model_name_or_path": base,
        "dtype": "float32",
        "use_peft": True,
        "lora_r": 4,
        "lora_alpha": 8,
        "lora_target_modules": "all-linear",
        "load_in_4bit": False,
        "datasets": [{"path": "embedded:court-opinions", "format": "court_opinions"},
                     {"path": "tatsu-lab/alpaca", "format": "alpaca", "weight": 0.5}],
        "chat_template": "auto",
        "train_on": "assistant",
        "learning_rate": 0.0002,
        "max_steps": 40,
        "output_dir": "runs/tiny",
    }
    recipe.update(extra)
    return recipe


def lora_model(base_dir: Path, seed: int = 1, **lora_kwargs):
    """The tiny base wrapped in a LoRA whose B weights are random, so the adapter is not a no-op."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    return perturbed(get_peft_model(base, LoraConfig(r=4, lora_alpha=8, target_modules="all-linear",
                                                     task_type="CAUSAL_LM", **lora_kwargs)), seed)


def perturbed(model, seed: int):
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name or "trainable_tokens_delta" in name:
                param.add_(torch.randn(param.shape, generator=generator) * 0.5)
    return model.eval()


def write_run(run: Path, model, tokenizer, recipe: dict, *, extras: bool = True, **save_kwargs) -> Path:
    model.save_pretrained(run, **save_kwargs)
    tokenizer.save_pretrained(run)
    (run / "recipe.yaml").write_text(yaml.safe_dump(recipe, sort_keys=False))
    if extras:
        (run / "metrics.jsonl").write_text("".join(json.dumps(m) + "\n" for m in METRICS))
        (run / "summary.json").write_text(json.dumps(SUMMARY))
        (run / "data").mkdir()
        (run / "data" / "report.json").write_text(json.dumps(DATA_REPORT))
        (run / "eval").mkdir()
        (run / "eval" / "metrics.json").write_text(json.dumps(EVAL_METRICS))
    return run


def probe(tokenizer) -> torch.Tensor:
    messages = [{"role": "user", "content": "Which court decided it?"},
                {"role": "assistant", "content": "The Ninth Circuit. REVERSED."}]
    text = tokenizer.apply_chat_template(messages, tokenize=False)
    return torch.tensor([tokenizer(text, add_special_tokens=False)["input_ids"]])


def logits(model, ids: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(input_ids=ids).logits


@pytest.fixture(scope="module")
def adapter_run(tmp_path_factory, tiny_model_dir, smol_tokenizer):
    model = lora_model(tiny_model_dir)
    ids = probe(smol_tokenizer)
    reference = logits(model, ids)
    run = write_run(tmp_path_factory.mktemp("run"), model, smol_tokenizer, recipe_for(str(tiny_model_dir)))
    return run, ids, reference


@pytest.fixture(scope="module")
def adapter_export(adapter_run, tmp_path_factory):
    run, _, _ = adapter_run
    out = tmp_path_factory.mktemp("exports") / "adapter"
    result = export_run(run, out=out)
    return out, result


def front_matter(card: str) -> dict:
    match = re.match(r"---\n(.*?)\n---\n", card, re.S)
    assert match, "the card must start with YAML front matter"
    return yaml.safe_load(match.group(1))


def test_adapter_export_reloads_with_the_same_logits(adapter_run, adapter_export, tiny_model_dir, smol_tokenizer):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    _, ids, reference = adapter_run
    out, result = adapter_export
    assert {"adapter_model.safetensors", "adapter_config.json", "generation_config.json", "README.md",
            "tokenizer.json", "tokenizer_config.json"} <= set(result.files)
    assert not list(out.parent.glob(".adapter.*")), "the staging directory must be gone"

    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    base_logits = logits(base, ids)
    assert not torch.allclose(base_logits, reference, atol=1e-3), "the test adapter must change the logits"
    reloaded = PeftModel.from_pretrained(base, out).eval()
    assert torch.equal(logits(reloaded, ids), reference)
    assert torch.equal(logits(load_adapter_model(tiny_model_dir, out, smol_tokenizer), ids), reference)


def test_exported_tokenizer_keeps_the_training_chat_template(adapter_export, smol_tokenizer):
    from transformers import AutoTokenizer

    out, _ = adapter_export
    exported = AutoTokenizer.from_pretrained(out)
    messages = [{"role": "user", "content": "Name the case."}]
    assert exported.apply_chat_template(messages, tokenize=False, add_generation_prompt=True) == \
        smol_tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


def test_generation_config_stops_at_the_end_of_turn(adapter_export, smol_tokenizer):
    out, _ = adapter_export
    im_end = smol_tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert end_of_turn_ids(smol_tokenizer) == [im_end]
    eos = json.loads((out / "generation_config.json").read_text())["eos_token_id"]
    assert im_end in (eos if isinstance(eos, list) else [eos])


def test_model_card_renders_the_run_numbers(adapter_run, adapter_export):
    run, _, _ = adapter_run
    out, _ = adapter_export
    card = (out / "README.md").read_text()
    meta = front_matter(card)
    assert meta["library_name"] == "peft"
    assert {"peft", "lora", "sft"} <= set(meta["tags"])
    assert meta["datasets"] == ["tatsu-lab/alpaca"]  # the embedded corpus is not a Hub dataset
    assert "license" in meta and "base_model" not in meta  # a local base has no Hub id
    # training numbers: last logged loss and eval loss, steps and runtime from summary.json
    assert "| final train loss | 0.8125 |" in card
    assert "| mean train loss | 1.688 |" in card
    assert "| eval loss | 0.9375 |" in card
    assert "| steps | 40 |" in card
    assert "| runtime | 12.5 s |" in card
    assert "| 20 | 1.75 | 1.625 | 0.00015 |" in card  # loss table merges train and eval rows of a step
    # data sizes from data/report.json
    assert "train 340 · validation 40 · test 20; rejected 7" in card
    # eval table: one column per model
    assert "| task | metric | base | tuned |" in card
    assert "| holding | exact_match | 0.125 | 0.625 |" in card
    assert "| all | held_out_loss | 2.75 | 1.375 |" in card
    # the recipe block is the run's recipe, complete
    block = re.search(r"```yaml\n(.*?)\n```", card, re.S).group(1)
    assert yaml.safe_load(block) == yaml.safe_load((run / "recipe.yaml").read_text())
    # how to load / evaluate it, pointing at this export
    assert f"peft={out.resolve()}" in card and "lm_eval --model hf" in card
    assert "--enable-lora" in card and "transformers serve" in card


def test_card_says_what_the_run_did_not_record(tmp_path, tiny_model_dir, smol_tokenizer):
    run = write_run(tmp_path / "run", lora_model(tiny_model_dir), smol_tokenizer,
                    recipe_for(str(tiny_model_dir)), extras=False)
    card = (export_run(run, out=tmp_path / "out").path / "README.md").read_text()
    assert "records no training metrics" in card
    assert "No evaluation was recorded" in card
    assert "No data report was found" in card
    assert "final train loss" not in card


def test_eval_table_tolerates_shapes():
    table = eval_table({"tuned": {"summarize": {"rouge": {"l": 0.5, "1": 0.75}, "note": "text"}, "loss": 1.5},
                        "meta": "not a model"})
    assert table["models"] == ["tuned"]
    rows = {(r["task"], r["metric"]): r["values"] for r in table["rows"]}
    assert rows == {("summarize", "rouge/l"): [0.5], ("summarize", "rouge/1"): [0.75], ("all", "loss"): [1.5]}
    assert eval_table({}) is None and eval_table({"m": {"task": "no numbers"}}) is None


def test_embedded_base_is_named_by_its_hub_id(tmp_path, adapter_run, embedded_dir):
    run, _, _ = adapter_run
    copy = shutil.copytree(run, tmp_path / "run")
    (copy / "recipe.yaml").write_text(yaml.safe_dump(recipe_for("embedded")))
    out = export_run(copy, out=tmp_path / "out").path
    card = (out / "README.md").read_text()
    assert front_matter(card)["base_model"] == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert "pretrained=HuggingFaceTB/SmolLM2-135M-Instruct,peft=" in card
    config = json.loads((out / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == "HuggingFaceTB/SmolLM2-135M-Instruct"


def test_merged_model_matches_adapter_on_base(adapter_run, tmp_path):
    from transformers import AutoModelForCausalLM

    run, ids, reference = adapter_run
    result = export_run(run, merge=True, out=tmp_path / "merged")
    assert "model.safetensors" in result.files and "adapter_config.json" not in result.files
    merged = AutoModelForCausalLM.from_pretrained(result.path, dtype=torch.float32)
    assert not any("lora" in name for name, _ in merged.named_parameters())
    torch.testing.assert_close(logits(merged, ids), reference, atol=1e-5, rtol=0)
    card = (result.path / "README.md").read_text()
    assert front_matter(card)["library_name"] == "transformers"
    assert "Merge check" in card


def test_qlora_run_merges_into_the_unquantized_base(adapter_run, tmp_path, tiny_model_dir):
    from safetensors import safe_open

    run, _, _ = adapter_run
    copy = shutil.copytree(run, tmp_path / "run")
    (copy / "recipe.yaml").write_text(yaml.safe_dump(recipe_for(str(tiny_model_dir), load_in_4bit=True,
                                                                dtype="bfloat16")))
    out = export_run(copy, merge=True, out=tmp_path / "merged").path
    config = json.loads((out / "config.json").read_text())
    assert "quantization_config" not in config
    with safe_open(str(out / "model.safetensors"), framework="pt") as f:
        dtypes = {f.get_slice(k).get_dtype() for k in f.keys()}
    assert dtypes == {"BF16"}  # the recipe's dtype, not 4-bit storage
    assert "QLoRA" in (out / "README.md").read_text()


@pytest.mark.parametrize("base_precision, method, tag", [
    ({"load_in_4bit": True}, "QLoRA (4-bit base)", "qlora"),
    ({"load_in_8bit": True}, "LoRA (8-bit base)", "lora"),
    ({}, "LoRA", "lora"),
])
def test_card_names_the_method_with_its_base_precision(adapter_run, tmp_path, tiny_model_dir, base_precision,
                                                       method, tag):
    """QLoRA is LoRA on a 4-bit base; an 8-bit base is named as such, not as QLoRA."""
    run, _, _ = adapter_run
    copy = shutil.copytree(run, tmp_path / "run")
    (copy / "recipe.yaml").write_text(yaml.safe_dump(recipe_for(str(tiny_model_dir), **base_precision)))
    card = (export_run(copy, out=tmp_path / "adapter").path / "README.md").read_text()
    assert f"- Method: {method}, rank 4," in card
    tags = front_matter(card)["tags"]
    assert tag in tags and ({"lora", "qlora"} - {tag}).isdisjoint(tags)


def test_quantized_base_is_refused(adapter_run, tmp_path, tiny_model_dir):
    run, _, _ = adapter_run
    base = shutil.copytree(tiny_model_dir, tmp_path / "base-4bit")
    config = json.loads((base / "config.json").read_text())
    config["quantization_config"] = {"quant_method": "bitsandbytes", "load_in_4bit": True}
    (base / "config.json").write_text(json.dumps(config))
    with pytest.raises(ExportError, match="stored quantized .* full-precision base"):
        export_run(run, merge=True, base=str(base), out=tmp_path / "merged")
    assert not (tmp_path / "merged").exists() and not (tmp_path / ".merged.partial").exists()


def test_existing_output_needs_overwrite(adapter_run, tmp_path):
    run, _, _ = adapter_run
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(ExportError, match="already exists"):
        export_run(run, out=out)
    assert (out / "keep.txt").read_text() == "mine"
    export_run(run, out=out, overwrite=True)
    assert not (out / "keep.txt").exists() and (out / "adapter_model.safetensors").is_file()


def test_broken_run_directories_fail_in_one_line(tmp_path, adapter_run):
    with pytest.raises(ExportError, match="run directory not found"):
        export_run(tmp_path / "missing")
    run, _, _ = adapter_run
    copy = shutil.copytree(run, tmp_path / "run")
    (copy / "metrics.jsonl").write_text('{"step": 1, "loss": 1.0}\n{"step": 2, "loss"\n')
    with pytest.raises(ExportError, match=r"metrics\.jsonl:2: not valid JSON"):
        export_run(copy)
    (copy / "recipe.yaml").unlink()
    with pytest.raises(ExportError, match="no recipe.yaml"):
        export_run(copy)
    with pytest.raises(ExportError, match="nothing to merge"):
        full = tmp_path / "full"
        full.mkdir()
        for name in ("config.json", "tokenizer_config.json", "recipe.yaml"):
            (full / name).write_text("{}")
        export_run(full, merge=True)


# ChatML on a base model: the run added <|im_start|>/<|im_end|>, resized the embeddings and trained those rows.


@pytest.fixture(scope="module")
def chatml_base(tmp_path_factory):
    """A tiny 'base' model whose own tokenizer has no chat tokens; EOS is </s>."""
    from transformers import LlamaConfig, LlamaForCausalLM

    corpus = ["The court affirmed the judgment.", "Which court decided it?", "The Ninth Circuit reversed."] * 20
    tokenizer = bpe_tokenizer(corpus, vocab_size=300, special_tokens=("<unk>", "<s>", "</s>"),
                              unk_token="<unk>", bos_token="<s>", eos_token="</s>")
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64,
                                         num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1,
                                         tie_word_embeddings=True, eos_token_id=tokenizer.eos_token_id))
    base = tmp_path_factory.mktemp("chatml-base")
    model.save_pretrained(base)
    tokenizer.save_pretrained(base)
    return base


def chatml_run(base: Path, run: Path, *, train_new_tokens: bool = True):
    """What training does for chat_template: chatml on a base model, then a LoRA that trains the new rows."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base)
    tokenizer.add_special_tokens({"additional_special_tokens": ["<|im_start|>", "<|im_end|>"]})
    tokenizer.chat_template = CHATML
    new_ids = tokenizer.convert_tokens_to_ids(["<|im_start|>", "<|im_end|>"])
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
    extra = {"trainable_token_indices": new_ids} if train_new_tokens else {}
    peft_model = perturbed(get_peft_model(model, LoraConfig(r=4, target_modules="all-linear",
                                                            task_type="CAUSAL_LM", **extra)), seed=3)
    ids = probe(tokenizer)
    reference = logits(peft_model, ids)
    save = {} if train_new_tokens else {"save_embedding_layers": False}
    write_run(run, peft_model, tokenizer, recipe_for(str(base), chat_template="chatml"), **save)
    return tokenizer, new_ids, ids, reference


def test_chatml_on_base_export_stops_and_keeps_new_rows(chatml_base, tmp_path):
    from transformers import AutoModelForCausalLM

    tokenizer, new_ids, ids, reference = chatml_run(chatml_base, tmp_path / "run")
    assert ids[0].tolist().count(new_ids[1]) == 2  # the probe really uses the new tokens

    adapter = export_run(tmp_path / "run", out=tmp_path / "adapter").path
    eos = json.loads((adapter / "generation_config.json").read_text())["eos_token_id"]
    assert eos[:2] == [new_ids[1], tokenizer.eos_token_id]  # end-of-turn first, then </s>
    reloaded = load_adapter_model(chatml_base, adapter, tokenizer)
    assert torch.equal(logits(reloaded, ids), reference)

    merged_dir = export_run(tmp_path / "run", merge=True, out=tmp_path / "merged").path
    merged = AutoModelForCausalLM.from_pretrained(merged_dir, dtype=torch.float32)
    assert merged.get_input_embeddings().weight.shape[0] == len(tokenizer)
    # merging W + BA re-rounds fp32 sums: a few logits of size ~3 move by ~1e-5 on some CPUs' kernels (a lost
    # adapter or a lost embedding row moves them by far more than this)
    torch.testing.assert_close(logits(merged, ids), reference, atol=1e-5, rtol=1e-5)
    trained = reloaded.get_input_embeddings()(torch.tensor(new_ids))  # adapter-on-base rows of the new tokens
    torch.testing.assert_close(merged.get_input_embeddings().weight[new_ids], trained.detach(), atol=0, rtol=0)
    base_rows = AutoModelForCausalLM.from_pretrained(chatml_base).get_input_embeddings().weight.shape[0]
    assert min(new_ids) >= base_rows  # they are rows the base did not have


def test_new_tokens_without_trained_rows_are_refused(chatml_base, tmp_path):
    chatml_run(chatml_base, tmp_path / "run", train_new_tokens=False)
    with pytest.raises(ExportError, match=r"2 token\(s\) the base model lacks .*<\|im_start\|>.* random"):
        export_run(tmp_path / "run", out=tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_full_fine_tune_exports_with_its_card_and_the_same_logits(tmp_path, tiny_model_dir, smol_tokenizer):
    """A run that trained every weight (use_peft: false) exports the model itself; the card names the method."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    generator = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(torch.randn(param.shape, generator=generator) * 0.02)
    ids = probe(smol_tokenizer)
    reference = logits(model.eval(), ids)
    recipe = {k: v for k, v in recipe_for(str(tiny_model_dir)).items() if not k.startswith("lora_")}
    run = write_run(tmp_path / "run", model, smol_tokenizer, recipe | {"use_peft": False})
    result = export_run(run, out=tmp_path / "out")
    assert "model.safetensors" in result.files and "adapter_config.json" not in result.files
    reloaded = AutoModelForCausalLM.from_pretrained(result.path, dtype=torch.float32).eval()
    assert torch.equal(logits(reloaded, ids), reference)
    card = (result.path / "README.md").read_text()
    assert front_matter(card)["library_name"] == "transformers"
    assert "- Method: full fine-tuning\n" in card and "rank" not in card.split("## Data")[0]
    assert "| final train loss | 0.8125 |" in card
