"""Upstream messages that say nothing to a person running a recipe, hidden at their source.

Each entry names the library, the exact message and why hiding it loses nothing. Nothing is wrapped or patched:
Python warnings filters (message regex + category + the module the warning is attributed to) and ``logging.Filter``s
on the named library loggers. ``sft-recipes --verbose`` (or ``SFT_RECIPES_VERBOSE=1``, which launched processes
inherit) installs none of them, so every line shows again.
"""

from __future__ import annotations

import logging
import os
import re
import warnings
from dataclasses import dataclass

VERBOSE_ENV = "SFT_RECIPES_VERBOSE"


@dataclass(frozen=True)
class Hidden:
    source: str  # a warning's module, or a logger's name
    message: str  # regex matched from the start of the message
    why: str
    category: type[Warning] | None = None  # None: a log record of logger ``source``


HIDDEN: tuple[Hidden, ...] = (
    Hidden("transformers.modeling_utils", r"`is_gradient_checkpointing` is deprecated",
           "peft and TRL read the old property name; the value they get is the new property's, unchanged",
           FutureWarning),
    Hidden("torch.distributed.c10d_logger",
           r"`torch\.distributed\.(all_gather_into_tensor|reduce_scatter_tensor)` is deprecated",
           "DeepSpeed calls torch's old collective names, which torch keeps as aliases doing the same",
           FutureWarning),
    Hidden("peft.utils.save_and_load", r"Setting `save_embedding_layers` to `True`",
           "the resized or trained embeddings are saved with the adapter, which is what a run needs to load",
           UserWarning),
    Hidden("bitsandbytes.backends.cpu.ops", r"Failed to load CPU gemm_4bit_forward from kernels-community",
           "an optional prebuilt CPU kernel from the Hub; 4-bit layers run bitsandbytes' own CPU code instead"),
    Hidden("DeepSpeed", r"Setting accelerator to CPU\. If you have GPU",
           "DeepSpeed found no GPU on a machine that has none; a GPU run picks CUDA and never logs this"),
)


class _DropMessages(logging.Filter):
    def __init__(self, patterns: list[str]) -> None:
        super().__init__()
        self.pattern = re.compile("|".join(f"(?:{p})" for p in patterns))

    def filter(self, record: logging.LogRecord) -> bool:
        return not self.pattern.match(record.getMessage())


_installed: list[tuple[logging.Logger, logging.Filter]] = []


def is_verbose() -> bool:
    return os.environ.get(VERBOSE_ENV, "").lower() in ("1", "true", "yes")


def install(verbose: bool = False) -> None:
    """Hide the messages in ``HIDDEN`` (before the libraries are imported), unless ``verbose``."""
    if verbose:
        os.environ[VERBOSE_ENV] = "1"
    if verbose or is_verbose() or _installed:
        return
    by_logger: dict[str, list[str]] = {}
    for item in HIDDEN:
        if item.category is None:
            by_logger.setdefault(item.source, []).append(item.message)
        else:
            warnings.filterwarnings("ignore", message=item.message, category=item.category,
                                    module=re.escape(item.source) + "$")
    for name, patterns in by_logger.items():
        logger, dropper = logging.getLogger(name), _DropMessages(patterns)
        logger.addFilter(dropper)
        _installed.append((logger, dropper))
