"""Prepare: a recipe's data -> clean, leak-free splits -> the model's template -> verified assistant-only labels, in
a prepared directory that training reads as it is (tokenized once, by the main process first).

    run.py  the steps (load, split, tokenize, write), the prepared directory, its fingerprint; `sft-recipes prepare`
"""

from sft_recipes.prepare.run import (
    NoTrainableRows,
    Prepared,
    ensure_prepared,
    fingerprint,
    is_fresh,
    load_prepared,
    main,
    prepared_dir,
    run_paths,
    run_prepare,
)

__all__ = ["NoTrainableRows", "Prepared", "ensure_prepared", "fingerprint", "is_fresh", "load_prepared", "main",
           "prepared_dir", "run_paths", "run_prepare"]
