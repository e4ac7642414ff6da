"""Errors raised by ``sft-recipes export``: each message is one line the user can act on."""

from __future__ import annotations

from sft_recipes import SFTRecipesError


class ExportError(SFTRecipesError):
    """The run directory cannot be exported as asked (missing files, bad base model, failed merge check)."""


class HubPushError(ExportError):
    """The Hub push could not start (no token, offline mode) or did not complete."""
