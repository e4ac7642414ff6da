"""Instruction data, from files on disk to conversation rows ready for splitting.

    sources.py         read records from .json / .jsonl / .csv / .parquet, a folder of .txt / .json documents,
                       a saved dataset dir, or the Hub
    formats.py         turn each record into a conversation row (alpaca, sharegpt, messages, ...), once; court
                       opinions go to their task family (``sft_recipes/tasks/court_opinions/``)
    clean.py           whitespace normalisation, empty turns, exact duplicates
    mix.py             several datasets mixed by weight
    split.py           group-aware train / validation / test with a leakage check
    load.py            the entry points: ``load_conversations`` and ``split_conversations``

A row is a plain dict (see ``sft_recipes/conversation.py``) plus ``group``: rows sharing a group
(the instructions built from one opinion) always land in the same split.

    rejects.py         the one ``Reject`` and the counts by kind of reason

Nothing is dropped silently: a row that cannot be used becomes a ``Reject`` (reason, source "file:line", the row).
"""
