"""Generation stops where a turn ends, left padding changes nothing, prompts render with the chat template."""

import copy

import pytest
import torch
from transformers import AutoModelForCausalLM, LogitsProcessor, LogitsProcessorList

from sft_recipes.inference.loading import load_for_inference
from sft_recipes.inference.settings import GenerationSettings
from sft_recipes.inference.generate import (
    GenerationError,
    encode_prompt,
    generate,
    generate_token_ids,
    render_prompt,
    shared_prefix_groups,
    stop_token_ids,
    template_stop_strings,
)

ALPACA_TEMPLATE = (
    "{% for m in messages %}{% if m['role'] == 'user' %}### Instruction:\n{{ m['content'] }}\n\n"
    "{% elif m['role'] == 'assistant' %}### Response:\n{{ m['content'] }}{{ eos_token }}\n\n{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}### Response:\n{% endif %}"
)
QUESTION = [{"role": "user", "content": "Which court decided the case?"}]


class ForceTokens(LogitsProcessor):
    """Makes a random model say exactly ``tokens`` (then ``filler`` forever) and counts the steps it ran."""

    def __init__(self, tokens: list[int], filler: int):
        self.tokens, self.filler, self.steps = tokens, filler, 0

    def __call__(self, input_ids, scores):
        step = self.steps
        self.steps += 1
        forced = self.tokens[step] if step < len(self.tokens) else self.filler
        out = torch.full_like(scores, float("-inf"))
        out[:, forced] = 0.0
        return out


@pytest.fixture(scope="module")
def tiny(tiny_model_dir):
    model, tokenizer = load_for_inference(str(tiny_model_dir))
    return model, tokenizer


def _ids(tokenizer, text):
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def test_stops_at_end_of_turn_token(tiny):
    model, tok = tiny
    words = _ids(tok, "The Ninth Circuit")
    force = ForceTokens(words + [tok.convert_tokens_to_ids("<|im_end|>")] + _ids(tok, " and more"), filler=words[0])
    [answer] = generate(model, tok, [QUESTION], GenerationSettings(max_new_tokens=30), progress=False,
                        logits_processor=LogitsProcessorList([force]))
    assert answer == "The Ninth Circuit"
    assert force.steps == len(words) + 1  # generation itself stopped, not just the returned text


def test_stops_at_end_of_turn_when_eos_differs(tiny_model_dir, smol_tokenizer):
    """Pitfall: EOS is <|endoftext|> but the template ends turns with <|im_end|>; both must stop generation."""
    tok = copy.deepcopy(smol_tokenizer)
    tok.eos_token = "<|endoftext|>"
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    model.generation_config.eos_token_id = tok.eos_token_id
    im_end = tok.convert_tokens_to_ids("<|im_end|>")
    assert {tok.eos_token_id, im_end} <= set(stop_token_ids(tok, model))
    words = _ids(tok, "Reversed")
    force = ForceTokens(words + [im_end], filler=words[0])
    [answer] = generate(model, tok, [QUESTION], GenerationSettings(max_new_tokens=20), progress=False,
                        logits_processor=LogitsProcessorList([force]))
    assert answer == "Reversed" and force.steps == len(words) + 1


def test_stops_at_template_stop_string(tiny):
    model, smol = tiny
    tok = copy.deepcopy(smol)
    tok.chat_template = ALPACA_TEMPLATE
    assert template_stop_strings(tok) == ["### Instruction:"]  # the next turn's header is text, not a token
    assert template_stop_strings(smol) == []  # ChatML ends turns with a token, not text
    answer_ids = _ids(tok, "AFFIRMED.\n\n")
    marker_ids = _ids(tok, "### Instruction:\nWhat next?")
    force = ForceTokens(answer_ids + marker_ids, filler=answer_ids[0])
    [answer] = generate(model, tok, [QUESTION], GenerationSettings(max_new_tokens=40), progress=False,
                        logits_processor=LogitsProcessorList([force]))
    assert answer == "AFFIRMED."
    assert force.steps < len(answer_ids) + len(marker_ids)  # stopped inside the marker, well before 40 steps


def test_left_padding_matches_unbatched_greedy(tiny):
    model, tok = tiny
    prompts = [
        [{"role": "user", "content": "Summarize the opinion in one sentence, please, with the holding."}],
        "Once upon a time",
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Court?"}],
        [{"role": "user", "content": "Which statute is at issue?"}],
    ]
    settings = GenerationSettings(max_new_tokens=8, batch_size=1)
    one_by_one = generate_token_ids(model, tok, prompts, settings, progress=False)
    batched = generate_token_ids(model, tok, prompts, settings.replace(batch_size=4), progress=False)
    assert batched == one_by_one
    assert len({tuple(ids) for ids in one_by_one}) > 1  # answers differ, so order restoration is checked too


def test_shared_prefix_groups():
    doc_a, doc_b = list(range(100, 160)), list(range(200, 240))
    encoded = [
        doc_a + [1, 2, 3],      # 0: document A, question 1
        doc_b + [7],            # 1: document B, question 1
        doc_a + [4],            # 2: document A, question 2
        [9] * 50,               # 3: shares nothing
        doc_b + [8, 8],         # 4: document B, question 2
        doc_a[:20] + [5] * 30,  # 5: a 20-token common opening (a short system prompt) is not worth a group
        doc_a + [1, 2, 6],      # 6: document A, question 3 (shares 62 tokens with 0)
        [3] * 40 + [1] * 60,    # 7, 8: 40 shared tokens, under half of either prompt -> alone
        [3] * 40 + [2] * 60,
    ]
    groups, lone = shared_prefix_groups(encoded)
    assert sorted((shared, sorted(members)) for shared, members in groups) == [(40, [1, 4]), (60, [0, 2, 6])]
    assert sorted(lone) == [3, 5, 7, 8]
    # a prompt that is entirely the prefix of another keeps its last token to generate from
    groups, lone = shared_prefix_groups([doc_a, doc_a + [1, 2]])
    assert groups == [(59, [0, 1])] and lone == []


@pytest.mark.parametrize("batch_size", [2, 4, 7])
def test_shared_prefix_generation_matches_unbatched_greedy(lively_model, batch_size):
    """Questions about two documents, run from one cached prefix per document (groups split across batches,
    or two groups with prefixes of different lengths stacked in one batch), give the same tokens as each prompt
    alone; and the prompt work really is shared (fewer prompt tokens go through the model)."""
    model, tok = lively_model
    doc_a = "The Court of Appeals held that the contract was void because the seller never signed it. " * 4
    doc_b = "In Smith v. Jones the district court dismissed the complaint for lack of standing, and we affirm. " * 3
    questions = ["Which court decided the case?", "What was the disposition, in the court's own words?", "Name?"]
    prompts = [[{"role": "user", "content": doc + "\n\nQuestion: " + q}] for doc in (doc_a, doc_b) for q in questions]
    prompts.append([{"role": "user", "content": "Unrelated short prompt."}])

    seen = []
    hook = model.get_input_embeddings().register_forward_hook(lambda m, args, out: seen.append(args[0].shape))
    try:
        alone = GenerationSettings(max_new_tokens=8, batch_size=1, share_prefixes=False)
        one_by_one = generate_token_ids(model, tok, prompts, alone, progress=False)
        plain_prompt_tokens = sum(b * t for b, t in seen if t > 1)
        seen.clear()
        shared = generate_token_ids(model, tok, prompts, GenerationSettings(max_new_tokens=8, batch_size=batch_size),
                                    progress=False, batch_keys=["q"] * 6 + ["other"])
        shared_prompt_tokens = sum(b * t for b, t in seen if t > 1)
    finally:
        hook.remove()
    assert shared == one_by_one
    assert len({tuple(ids) for ids in one_by_one}) == len(prompts)  # every answer differs: order is checked too
    doc_tokens = len(tok(doc_a)["input_ids"]) + len(tok(doc_b)["input_ids"])
    assert shared_prompt_tokens < plain_prompt_tokens - doc_tokens  # each document encoded once, not three times


@pytest.mark.parametrize("share_prefixes", [True, False])
def test_batched_generation_equals_transformers_alone_and_the_head_reads_contiguous_rows(lively_model,
                                                                                         share_prefixes):
    """Batched answers (left padding, a preallocated cache, shared prefixes or not) are the tokens transformers'
    own ``generate`` gives each prompt alone with its default growing cache; and every LM-head call reads one
    contiguous row per prompt (a strided view made PyTorch copy the head's weight once per row)."""
    model, tok = lively_model
    doc = "The Court of Appeals held that the contract was void because the seller never signed it. " * 4
    prompts = [[{"role": "user", "content": doc + "\n\nQuestion: " + q}] for q in ("Which court?", "Holding?")]
    prompts += [[{"role": "user", "content": "Unrelated short prompt."}], "Once upon a time, a judge"]
    alone = []
    for prompt in prompts:
        ids = torch.tensor([encode_prompt(tok, prompt)])
        out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=10, do_sample=False,
                             eos_token_id=stop_token_ids(tok, model), pad_token_id=tok.pad_token_id)
        alone.append(out[0, ids.shape[1]:].tolist())
    head_inputs = []
    hook = model.get_output_embeddings().register_forward_hook(
        lambda m, args, out: head_inputs.append((tuple(args[0].shape), args[0].is_contiguous())))
    try:
        settings = GenerationSettings(max_new_tokens=10, batch_size=4, share_prefixes=share_prefixes)
        batched = generate_token_ids(model, tok, prompts, settings, progress=False)
    finally:
        hook.remove()
    assert batched == [ids[: next((k for k, t in enumerate(ids) if t in stop_token_ids(tok, model)), len(ids))]
                       for ids in alone]
    assert len({tuple(ids) for ids in batched}) == len(prompts)
    assert head_inputs and all(contiguous and shape[1] == 1 for shape, contiguous in head_inputs), head_inputs
    assert any(shape[0] > 1 for shape, _ in head_inputs)  # batched rows went through the head together


@pytest.mark.parametrize("batch_size", [2, 8])
def test_budgets_end_each_answer_and_short_answers_batch_together(lively_model, batch_size):
    """Each prompt's answer stops at its own budget, exactly as if generated alone with that budget, and rows are
    batched by budget: the short answers of two documents do not run as long as the long ones, even when all six
    rows would fit one batch."""
    model, tok = lively_model
    docs = ("The Court of Appeals held that the contract was void because the seller never signed it. " * 4,
            "In Smith v. Jones the district court dismissed the complaint for lack of standing, and we affirm. " * 3)
    questions = ("Summarize the opinion.", "Which court?", "Name?")
    prompts = [[{"role": "user", "content": doc + "\n\nQuestion: " + q}] for doc in docs for q in questions]
    budgets = [12, 3, 3] * 2
    alone = [generate_token_ids(model, tok, [p], GenerationSettings(max_new_tokens=b, batch_size=1,
                                                                    share_prefixes=False), progress=False)[0]
             for p, b in zip(prompts, budgets)]

    seen = []
    hook = model.get_input_embeddings().register_forward_hook(lambda m, args, out: seen.append(args[0].shape))
    try:
        settings = GenerationSettings(max_new_tokens=12, batch_size=batch_size)
        budgeted = generate_token_ids(model, tok, prompts, settings, budgets=budgets, progress=False)
        budgeted_steps = sum(b for b, t in seen if t == 1)  # rows x decode steps
        seen.clear()
        generate_token_ids(model, tok, prompts, settings, progress=False)
        full_steps = sum(b for b, t in seen if t == 1)
    finally:
        hook.remove()
    assert budgeted == alone
    assert [len(ids) for ids in budgeted] == budgets  # the random model never ends a turn by itself
    # long rows together (2 rows x 11 steps), short rows together (4 rows x 2 steps), against 6 rows x 11 steps
    assert budgeted_steps == 2 * 11 + 4 * 2 and full_steps == 6 * 11
    with pytest.raises(GenerationError, match="between 1 and max_new_tokens"):
        generate_token_ids(model, tok, prompts, settings, budgets=[13] * 6, progress=False)


def test_sampling_is_seeded(tiny):
    model, tok = tiny
    sampling = GenerationSettings(max_new_tokens=6, do_sample=True, temperature=1.0, seed=7)
    first = generate_token_ids(model, tok, [QUESTION, "Text"], sampling, progress=False)
    again = generate_token_ids(model, tok, [QUESTION, "Text"], sampling, progress=False)
    other = generate_token_ids(model, tok, [QUESTION, "Text"], sampling.replace(seed=8), progress=False)
    assert first == again and first != other


def test_render_prompt(smol_tokenizer):
    text, add_special = render_prompt(smol_tokenizer, QUESTION)
    assert text.startswith("<|im_start|>system\n") and text.endswith("<|im_start|>assistant\n")
    assert "Which court decided the case?" in text and add_special is False
    assert render_prompt(smol_tokenizer, "raw text") == ("raw text", True)
    bare = copy.deepcopy(smol_tokenizer)
    bare.chat_template = None
    with pytest.raises(GenerationError, match="no chat template"):
        render_prompt(bare, QUESTION)


@pytest.mark.real_model
def test_real_model_answers_and_stops_at_im_end(embedded_dir):
    model, tok = load_for_inference(str(embedded_dir))
    prompt = [{"role": "user", "content": "What is the capital of France? Answer in one word."}]
    [ids] = generate_token_ids(model, tok, [prompt], GenerationSettings(max_new_tokens=24), progress=False)
    answer = tok.decode(ids)
    assert "paris" in answer.lower()
    assert len(ids) < 24  # it stopped on its own, at <|im_end|>, not at the budget


def test_settings_from_recipe_eval_section():
    from sft_recipes.recipe.arguments import EvalArguments

    ev = EvalArguments(eval_max_new_tokens=12, eval_batch_size=3, eval_do_sample=True, eval_temperature=0.3)
    settings = GenerationSettings.from_eval_args(ev, seed=5)
    assert (settings.max_new_tokens, settings.batch_size, settings.seed) == (12, 3, 5)
    assert settings.generate_kwargs() == {"do_sample": True, "temperature": 0.3, "top_p": 1.0, "max_new_tokens": 12}
    greedy = settings.replace(do_sample=False)
    assert greedy.generate_kwargs() == {"do_sample": False, "max_new_tokens": 12}
    assert greedy.record()["temperature"] is None and settings.record()["temperature"] == 0.3
    with pytest.raises(GenerationError, match="batch_size must be >= 1"):
        GenerationSettings(batch_size=0)
