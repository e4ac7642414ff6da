"""``sft-recipes export``: arguments in, ``export_run`` called, a summary printed."""

from __future__ import annotations

import argparse
import json

from sft_recipes.export.exporter import describe, export_run
from sft_recipes.export.gguf_file import GGUF_TYPES
from sft_recipes.export.merge import FLOAT_DTYPES


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sft-recipes export",
        description="Export a training run: the LoRA adapter (default) or the model merged into its "
        "full-precision base, with tokenizer, stop tokens and a model card; optionally push it to the Hub.",
    )
    parser.add_argument("--run", required=True, help="the training run directory (output_dir)")
    parser.add_argument("--merge", action="store_true", help="merge the adapter into the full-precision base")
    parser.add_argument("--out", help="export directory (default: RUN/export/adapter or RUN/export/merged)")
    parser.add_argument("--base", help="load the base model from here instead of the recipe's model")
    parser.add_argument("--dtype", choices=FLOAT_DTYPES, help="merge precision (default: the recipe's, else float32)")
    parser.add_argument("--gguf", choices=GGUF_TYPES, help="also write a GGUF of the merged model (llama.cpp's "
                        "converter, extra [gguf]) and an Ollama Modelfile beside it")
    parser.add_argument("--push_to_hub", metavar="ORG/NAME", help="also upload the export to this Hub model repo")
    parser.add_argument("--private", action="store_true", help="create the Hub repo as private")
    parser.add_argument("--commit_message", help="commit message of the Hub upload")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing export directory")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result = export_run(
        args.run,
        out=args.out,
        merge=args.merge,
        base=args.base,
        dtype=args.dtype,
        push_to_hub=args.push_to_hub,
        private=args.private,
        commit_message=args.commit_message,
        overwrite=args.overwrite,
        gguf=args.gguf,
    )
    print(json.dumps(describe(result), indent=2))
    return 0
