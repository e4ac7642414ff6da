"""Export a training run: adapter or merged model, tokenizer with its chat template, stop tokens, model card,
and an optional push to the Hugging Face Hub.

    run_dir.py     read what training wrote
    stop_tokens.py end-of-turn tokens -> generation_config.json
    merge.py       adapter on base, merge into the full-precision base, check the logits
    card.py        README.md from the model_card.md.jinja template
    hub.py         create_repo + upload_folder
    exporter.py    the steps in order, written atomically
    cli.py         ``sft-recipes export``
"""

from sft_recipes.export.cli import main
from sft_recipes.export.errors import ExportError, HubPushError
from sft_recipes.export.exporter import ExportResult, export_run
from sft_recipes.export.merge import load_adapter_model, load_base_for_adapter

__all__ = [
    "ExportError",
    "ExportResult",
    "HubPushError",
    "export_run",
    "load_adapter_model",
    "load_base_for_adapter",
    "main",
]
