"""Experiments people run with SFT, each one command with a report (markdown + PNG + JSON).

    sft-recipes experiment base-vs-tuned   --config R   base_vs_tuned.py: raw text to the base model vs the chat
                                                        template to the tuned one, side by side
    sft-recipes experiment noisy-vs-clean  --config R   noisy_vs_clean.py: the same instructions with corrupted
                                                        responses (corruption.py) vs clean, trained alike, compared
    sft-recipes experiment data-quality    --config R   data_quality.py: lengths, repeated openings, diversity,
                                           | --data F   near-duplicates (the analysis is sft_recipes/data/quality.py)

Alpaca-format preparation of the classic public sets is ``sft-recipes prepare`` with
``recipes/experiments/alpaca_cleaned.yaml`` (``yahma/alpaca-cleaned`` from the Hub, or any local Alpaca file with
``--datasets '[{path: my_alpaca.json, format: alpaca}]'``); its report and rejects are prepare's own.
"""

from sft_recipes import SFTRecipesError


class ExperimentError(SFTRecipesError):
    pass
