"""Prompts that share a long opening, and the KV caches that let them share its compute.

One document asked several questions (a court opinion and its six questions, a reading-comprehension passage)
makes prompts that repeat hundreds of tokens. ``shared_prefix_groups`` finds such groups in tokenized prompts;
``prefix_cache`` encodes a group's shared tokens once; ``stacked_cache`` puts the caches of several groups side
by side in one batch (each left-padded; the attention mask hides the padding, and the cached keys already carry
their positions). Generation and the held-out loss both run from these caches.
"""

from __future__ import annotations

from collections import defaultdict
from functools import cached_property
from typing import Any, Sequence


def _common_prefix_length(a: Sequence[int], b: Sequence[int]) -> int:
    n = min(len(a), len(b))
    for k in range(n):
        if a[k] != b[k]:
            return k
    return n


def shared_prefix_groups(
    encoded: Sequence[Sequence[int]], min_shared: int = 32, min_fraction: float = 0.5
) -> tuple[list[tuple[int, list[int]]], list[int]]:
    """Prompts worth running from one cached prefix: ``([(shared length, indices), ...], [lone indices])``.

    Prompts are sorted by their tokens, so those sharing an opening sit next to each other and a run's shared
    prefix is the shortest of its neighbours' common prefixes. A run continues while the shared part is at least
    ``min_shared`` tokens and at least ``min_fraction`` of the shorter prompt (a common 30-token system prompt
    does not make 72 prompts one group; one opinion asked six questions does). Every member keeps at least its
    last token outside the prefix, since generation starts from an uncached token.
    """
    order = sorted(range(len(encoded)), key=lambda i: list(encoded[i]))
    runs: list[tuple[int, list[int]]] = []
    for i in order:
        if runs:
            shared, members = runs[-1]
            prev = encoded[members[-1]]
            common = min(_common_prefix_length(prev, encoded[i]), len(encoded[i]) - 1, shared)
            if common >= min_shared and common >= min_fraction * min(len(prev), len(encoded[i])):
                runs[-1] = (common, members + [i])
                continue
        runs.append((len(encoded[i]) - 1, [i]))
    groups = [(shared, members) for shared, members in runs if len(members) > 1]
    lone = [members[0] for _, members in runs if len(members) == 1]
    return groups, lone


def prefix_batches(groups: list[tuple[int, list[int]]], batch_size: int) -> list[list[tuple[int, int]]]:
    """Batches of ``(shared prefix length, index)``: whole groups where they fit, split where a group is larger."""
    batches: list[list[tuple[int, int]]] = []
    current: list[tuple[int, int]] = []
    for shared, members in groups:
        if current and len(current) + len(members) > batch_size:
            batches.append(current)
            current = []
        for i in members:
            if len(current) == batch_size:
                batches.append(current)
                current = []
            current.append((shared, i))
    if current:
        batches.append(current)
    return batches


def plain_cache(model) -> bool:
    """Is the model's KV cache plain per-position keys and values in every layer (no sliding-window or
    linear-attention layers)? Only such a cache can be shared between prompts or allocated ahead."""
    from transformers import DynamicCache
    from transformers.cache_utils import DynamicLayer

    return all(type(layer) is DynamicLayer for layer in DynamicCache(config=model.config).layers)


def preallocated_cache(model, max_cache_len: int):
    """An empty KV cache of ``max_cache_len`` positions, filled in place as generation goes (a ``StaticCache``;
    no copy of the whole cache at every step)."""
    from transformers import StaticCache

    return StaticCache(config=model.config, max_cache_len=max_cache_len)


def prefix_cache(model, prefix: Sequence[int]):
    """The KV cache of ``prefix`` (one row), for a model whose cache is plain (``plain_cache``)."""
    import torch
    from transformers import DynamicCache

    device = next(model.parameters()).device
    cache = DynamicCache(config=model.config)
    with torch.no_grad():  # no logits wanted: the LM head runs on one position, picked by index (contiguous)
        model(input_ids=torch.tensor([list(prefix)], device=device), past_key_values=cache, use_cache=True,
              logits_to_keep=torch.tensor([0], device=device))
    return cache


def stacked_cache(model, caches: list, width: int, max_cache_len: int | None = None):
    """One batch cache from one-row prefix caches, each left-padded to ``width`` positions (the attention mask
    hides the padding; the cached keys already carry their own positions). With ``max_cache_len`` the cache is
    preallocated to that many positions (a ``StaticCache``, for generation), else it grows with every step."""
    import torch
    import torch.nn.functional as F
    from transformers import DynamicCache

    out = DynamicCache(config=model.config) if max_cache_len is None else preallocated_cache(model, max_cache_len)
    for layer_idx in range(len(caches[0].layers)):
        keys, values = [], []
        for cache in caches:
            layer = cache.layers[layer_idx]
            pad = width - layer.keys.shape[-2]
            keys.append(F.pad(layer.keys, (0, 0, pad, 0)))
            values.append(F.pad(layer.values, (0, 0, pad, 0)))
        out.update(torch.cat(keys), torch.cat(values), layer_idx)
    return out


class PrefixCaches:
    """The one-row caches a run of batches needs: each shared prefix is encoded when a batch first needs it and
    dropped after the last batch that runs from it. ``batch_prefixes[n]`` lists batch n's prefix per row (``()``
    for a row without one)."""

    def __init__(self, model, batch_prefixes: Sequence[Sequence[tuple[int, ...]]]):
        self.model = model
        self.batch_prefixes = batch_prefixes
        self.caches: dict[tuple[int, ...], Any] = {}
        last_use = {prefix: n for n, prefixes in enumerate(batch_prefixes) for prefix in prefixes if prefix}
        self.expiring: dict[int, list[tuple[int, ...]]] = defaultdict(list)
        for prefix, n in last_use.items():
            self.expiring[n].append(prefix)

    @cached_property
    def plain(self) -> bool:
        """Can this model's cache be shared and allocated ahead (``plain_cache``)?"""
        return plain_cache(self.model)

    def prefixes(self, n: int) -> list[tuple[int, ...]]:
        """Batch n's prefixes, encoded; all ``()`` when the model cannot run from a shared cache."""
        prefixes = list(self.batch_prefixes[n])
        if any(prefixes) and not self.plain:  # sliding-window or linear-attention layers: no shared cache
            return [() for _ in prefixes]
        for prefix in dict.fromkeys(prefixes):
            if prefix and prefix not in self.caches:
                self.caches[prefix] = prefix_cache(self.model, prefix)
        return prefixes

    def stacked(self, prefixes: Sequence[tuple[int, ...]], max_cache_len: int | None = None):
        """The batch cache for ``prefixes`` (from ``prefixes(n)``), or None when no row has one; preallocated to
        ``max_cache_len`` positions when given (``stacked_cache``)."""
        width = max(len(p) for p in prefixes)
        if not width:
            return None
        return stacked_cache(self.model, [self.caches[p] for p in prefixes], width, max_cache_len)

    def release(self, n: int) -> None:
        """Drop the caches no batch after batch n runs from."""
        for prefix in self.expiring.pop(n, []):
            self.caches.pop(prefix, None)

