"""Chat templates and labels: a conversation -> the tokens a model trains on.

    templates.py      choose the template a run trains with (native, chatml, alpaca, a .jinja file)
    template_info.py  what a template does, observed once: which tokens end a turn, system / reasoning / tool support
    render.py         conversations rendered the way inference renders them; control-token text in data stays text
    turns.py          where each trained reply is: one row per conversation, or one per turn when history changes
    masking.py        tokens and assistant-only labels of one conversation, every row checked
    tokenize.py       conversation rows tokenized in batches (datasets.map) or as a whole dataset
    preview.py        trained vs masked tokens, in colour
"""

from sft_recipes.chat.masking import IGNORE_INDEX, TokenizedRow
from sft_recipes.chat.tokenize import tokenize_conversation, tokenize_dataset
from sft_recipes.chat.template_info import TemplateError, TemplateInfo, describe_template, load_template_info
from sft_recipes.chat.templates import join_instruction_input, setup_chat_template
from sft_recipes.data.rejects import Reject

__all__ = [
    "IGNORE_INDEX", "Reject", "TemplateError", "TemplateInfo", "TokenizedRow", "describe_template",
    "join_instruction_input", "load_template_info", "setup_chat_template", "tokenize_conversation",
    "tokenize_dataset",
]
