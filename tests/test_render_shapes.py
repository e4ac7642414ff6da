"""Rendering once per conversation shape (render.py ``render_by_shape``) must give exactly the template's own text,
also for templates whose output depends on what a message says."""

from __future__ import annotations

import copy

import pytest

from sft_recipes.chat.render import Renderer, _tested_strings
from sft_recipes.chat.template_info import describe_template

TURN = "{{ '<|im_start|>' + message['role'] + '\n' }}{BODY}{{ '<|im_end|>\n' }}"
LOOP = "{% for message in messages %}" + TURN + "{% endfor %}{% if add_generation_prompt %}" \
       "{{ '<|im_start|>assistant\n' }}{% endif %}"
# Templates that do something with a message's text besides printing it.
TEMPLATES = {
    "suffix switch": "{% if message['content'].endswith('/nothink') %}{{ '(no thinking) ' }}{% endif %}"
                     "{{ message['content'] }}",
    "split": "{{ message['content'].split('. ')[0] }}",
    "json escaped": "{{ message['content'] | tojson }}",
    "upper case": "{{ message['content'] | upper }}",
    "repeated text": "{% if loop.index0 > 0 and message['content'] == messages[loop.index0 - 1]['content'] %}"
                     "{{ '(again) ' }}{% endif %}{{ message['content'] }}",
    "word switch via variable": "{% set flag = 'urgent' %}{% if flag in message['content'] %}{{ '!! ' }}{% endif %}"
                                "{{ message['content'] }}",
    "trimmed": "{{ message['content'] | trim }}",
}
TEXTS = ["Plain words here", "Say it again /nothink", "First part. Second part", 'He said "no" & left',
         "It is urgent now", "Plain words here", "Ünïcode\nand lines", "Plain words here"]


def conversations():
    out = []
    for a in TEXTS:
        for b in TEXTS:
            out.append([{"role": "user", "content": a}, {"role": "assistant", "content": b}])
    return out


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_shaped_renders_equal_real_renders_when_text_changes_the_output(smol_tokenizer, name):
    info = describe_template(smol_tokenizer)  # same turn tokens (some of these templates would fail its probes)
    tokenizer = copy.deepcopy(smol_tokenizer)
    tokenizer.chat_template = LOOP.replace("{BODY}", TEMPLATES[name])
    for prompt in (False, True):
        convs = conversations() if not prompt else [c[:1] for c in conversations()]
        renderer = Renderer(tokenizer, info)
        shaped = renderer.render_by_shape(convs, add_generation_prompt=prompt)
        real = Renderer(tokenizer, info).render_many(convs, add_generation_prompt=prompt)
        assert [s.text for s in shaped] == [r.text for r in real]


def test_tested_strings_are_those_a_template_compares_or_searches():
    source = ("{% set tag = '<x>' %}{% for m in messages %}{% if m['role'] == 'user' %}{{ 'User: ' + m['content'] }}"
              "{% elif m['content'].startswith('/cmd') %}{{ m['content'].split('|')[0] }}{% else %}"
              "{{ m['content'] | replace('a', 'b') }}{% endif %}{{ '\n' if loop.last else '\n\n' }}{% endfor %}")
    assert _tested_strings(source) == {"<x>", "user", "/cmd", "|", "a", "b"}


def test_plain_texts_use_the_shape_and_untouched_templates_keep_their_slots(smol_tokenizer):
    """SmolLM2's template only prints message texts: every plain conversation of one shape shares one rendering."""
    info = describe_template(smol_tokenizer)
    renderer = Renderer(smol_tokenizer, info)
    convs = [[{"role": "user", "content": f"Question {i}"}, {"role": "assistant", "content": f"Answer {i}"}]
             for i in range(5)]
    shaped = renderer.render_by_shape(convs)
    assert [s.text for s in shaped] == [r.text for r in renderer.render_many(convs)]
    assert [v is not None for v in renderer._shapes.values()] == [True]
