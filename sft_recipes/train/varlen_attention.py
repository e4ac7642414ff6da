"""Per-row attention for padding-free batches on CPU: a packed batch costs sum L^2, not (sum L)^2.

A padding-free batch (TRL's ``padding_free: true``, or ``packing`` with ``bfd``) is one row of concatenated examples
whose ``position_ids`` restart at 0 where each example starts. With ``sdpa``, transformers keeps the examples apart
with one block-diagonal boolean mask over the whole row: every layer scores (sum L)^2 query-key pairs and throws away
all but sum L^2 / 2 of them, and no fast causal kernel runs. Flash attention's varlen kernels do only the real pairs,
but they need a GPU.

This module registers an attention backend with transformers' supported extension points (``AttentionInterface``
and ``AttentionMaskInterface``, nothing patched) that does on a CPU what flash attention's varlen path does on a GPU:

- the mask function builds no (sum L)^2 mask for a batch without padding or a cache (it returns ``None``, as
  ``flash_attention_mask`` does); every other batch (padding, a KV cache, custom mask overlays) gets transformers'
  own ``sdpa_mask``;
- the attention function reads the example boundaries where flash attention reads them (``cu_seq_lens_q`` from TRL's
  collator, else ``position_ids`` restarting) and runs PyTorch's fused causal SDPA kernel on each example alone
  (``sliding_window`` as a band within the example); a batch with a mask, or queries that are not the keys (decoding
  with a cache), goes to transformers' ``sdpa_attention_forward`` unchanged.

A span whose positions restart at a value P > 0 instead of 0 is a branch (``group_turns: branches``,
data/branches.py): it sees the first P tokens of its example (the shared prefix) and itself, causally.

So it follows flash attention's contract: it is chosen only for models that support flash attention (they pass
``position_ids``, ``cu_seq_lens_*`` and ``sliding_window`` to the attention function) and have no chunked attention.
Checked by tests/test_varlen_attention.py: the loss and every gradient of a padding-free batch equal those of the same
rows padded.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

NAME = "varlen_sdpa"
_registered = False


def register() -> str:
    """Register the backend under ``NAME`` (idempotent) and return the name for ``attn_implementation``."""
    global _registered
    if not _registered:
        from transformers import AttentionInterface
        from transformers.masking_utils import AttentionMaskInterface

        AttentionInterface.register(NAME, varlen_sdpa_attention)
        AttentionMaskInterface.register(NAME, varlen_sdpa_mask)
        _registered = True
    return NAME


def supports_varlen(model) -> bool:
    """Models whose attention takes flash attention's varlen arguments, with only full or sliding-window layers."""
    config = model.config.get_text_config()
    layer_types = set(getattr(config, "layer_types", None) or ["full_attention"])
    return (
        bool(getattr(model, "_supports_flash_attn", False))
        and layer_types <= {"full_attention", "sliding_attention"}
        and getattr(config, "attention_chunk_size", None) is None
        and getattr(config, "attn_logit_softcapping", None) is None
    )


def varlen_sdpa_mask(batch_size, q_length, kv_length, q_offset=0, kv_offset=0, mask_function=None,
                     attention_mask=None, use_vmap=False, **kwargs):
    """No mask for a batch without padding, cache or overlay (the attention function splits the rows); otherwise
    transformers' own sdpa mask."""
    from transformers.masking_utils import causal_mask_function, sdpa_mask

    mask_function = mask_function or causal_mask_function
    if (attention_mask is None and not use_vmap and _is_zero(q_offset) and _is_zero(kv_offset)
            and q_length == kv_length and not _sees_a_later_token(mask_function, batch_size, q_length)):
        return None
    return sdpa_mask(batch_size=batch_size, q_length=q_length, kv_length=kv_length, q_offset=q_offset,
                     kv_offset=kv_offset, mask_function=mask_function, attention_mask=attention_mask,
                     use_vmap=use_vmap, **kwargs)


def _is_zero(offset) -> bool:
    return isinstance(offset, int) and offset == 0


def _sees_a_later_token(mask_function, batch_size: int, length: int) -> bool:
    """True when some query may attend to the next key (a bidirectional overlay, e.g. image tokens): then the
    pattern is not causal-within-examples and the full mask is built instead."""
    if length < 2:
        return False
    q_idx = torch.arange(length - 1)
    for b in range(batch_size):
        allowed = mask_function(torch.full_like(q_idx, b), torch.zeros_like(q_idx), q_idx, q_idx + 1)
        if bool(torch.as_tensor(allowed).any()):
            return True
    return False


def varlen_sdpa_attention(module, query, key, value, attention_mask, dropout: float = 0.0, scaling=None,
                          is_causal=None, sliding_window=None, softcap=None, **kwargs):
    """Attention for (batch, heads, length, head_dim) tensors; returns (batch, length, heads, head_dim) as
    transformers' sdpa does."""
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    if softcap is not None or kwargs.get("s_aux") is not None:
        raise ValueError(f"{NAME} attention supports neither softcap nor attention sinks; use eager attention")
    causal = is_causal if is_causal is not None else getattr(module, "is_causal", True)
    if attention_mask is not None or query.shape[2] != key.shape[2] or kwargs.get("position_bias") is not None:
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling,
                                      is_causal=is_causal, **kwargs)
    position_ids = kwargs.get("position_ids")
    bounds = example_bounds(query.shape[0], query.shape[2], kwargs.get("cu_seq_lens_q"), position_ids)
    gqa = query.shape[1] != key.shape[1]
    rows = []
    for b, spans in enumerate(bounds):
        parts = []
        for start, trunk_end, branches in example_branches(spans, position_ids, b):
            parts.append(_attend(query[b:b + 1, :, start:trunk_end], key[b:b + 1, :, start:trunk_end],
                                 value[b:b + 1, :, start:trunk_end], causal, dropout, scaling, sliding_window, gqa))
            if branches:  # every branch of the example in one call: its queries, the example's keys
                end = branches[-1][1]
                parts.append(_attend_branches(query[b:b + 1, :, trunk_end:end], key[b:b + 1, :, start:end],
                                              value[b:b + 1, :, start:end], start, branches, dropout, scaling,
                                              sliding_window, gqa))
        rows.append(parts[0] if len(parts) == 1 else torch.cat(parts, dim=2))
    out = rows[0] if len(rows) == 1 else torch.cat(rows, dim=0)
    return out.transpose(1, 2).contiguous(), None


def _attend(q, k, v, causal: bool, dropout: float, scale, sliding_window, gqa: bool):
    length = q.shape[2]
    if causal and sliding_window is not None and length > sliding_window:
        i = torch.arange(length, device=q.device)
        band = (i[None, :] <= i[:, None]) & (i[None, :] > i[:, None] - sliding_window)
        return F.scaled_dot_product_attention(q, k, v, attn_mask=band, dropout_p=dropout, scale=scale,
                                              enable_gqa=gqa)
    return F.scaled_dot_product_attention(q, k, v, dropout_p=dropout, scale=scale, is_causal=causal and length > 1,
                                          enable_gqa=gqa)


def example_branches(spans, position_ids, row: int):
    """(start, end of the first span, [(s, e, shared) of its branches]) per example of a row: a span whose positions
    restart at 0 starts an example, one restarting at P > 0 is a branch sharing the example's first P tokens."""
    out: list[tuple[int, int, list[tuple[int, int, int]]]] = []
    for s, e in spans:
        shared = 0 if position_ids is None or s == 0 else \
            int(position_ids[row if position_ids.shape[0] > 1 else 0, s])
        if shared == 0 or not out:
            out.append((s, e, []))
            continue
        start, trunk_end, branches = out[-1]
        if shared > trunk_end - start:
            raise ValueError(f"a branch restarts at position {shared} after a prefix of {trunk_end - start} tokens")
        branches.append((s, e, shared))
    return out


def _attend_branches(q, k, v, start: int, branches, dropout: float, scale, sliding_window, gqa: bool):
    """The branches' queries over the example's keys: each sees the prefix it shares and itself, causally."""
    q_pos, k_pos, q_branch, k_branch = [], [torch.arange(branches[0][0] - start)], [], [torch.full(
        (branches[0][0] - start,), -1)]
    for n, (s, e, shared) in enumerate(branches):
        q_pos.append(torch.arange(shared, shared + e - s))
        k_pos.append(torch.arange(shared, shared + e - s))
        q_branch.append(torch.full((e - s,), n))
        k_branch.append(torch.full((e - s,), n))
    q_pos, k_pos, q_branch, k_branch = (torch.cat(t).to(q.device) for t in (q_pos, k_pos, q_branch, k_branch))
    shares = torch.tensor([shared for _, _, shared in branches], device=q.device)[q_branch]
    in_prefix = (k_branch[None, :] < 0) & (k_pos[None, :] < shares[:, None])
    allowed = (in_prefix | (k_branch[None, :] == q_branch[:, None])) & (k_pos[None, :] <= q_pos[:, None])
    if sliding_window is not None:
        allowed &= k_pos[None, :] > q_pos[:, None] - sliding_window
    return F.scaled_dot_product_attention(q, k, v, attn_mask=allowed, dropout_p=dropout, scale=scale,
                                          enable_gqa=gqa)


def example_bounds(batch_size: int, length: int, cu_seq_lens=None, position_ids=None) -> list[list[tuple[int, int]]]:
    """(start, end) of every example in every row: from ``cu_seq_lens`` (one packed row), else from where
    ``position_ids`` do not continue the previous position by one, else one example per row."""
    if cu_seq_lens is not None and batch_size == 1 and int(cu_seq_lens[-1]) == length:
        cuts = [int(x) for x in cu_seq_lens.tolist()]
        return [[(s, e) for s, e in zip(cuts, cuts[1:]) if e > s]]
    if position_ids is None:
        return [[(0, length)]] * batch_size
    position_ids = position_ids.expand(batch_size, -1)
    starts = torch.ones_like(position_ids, dtype=torch.bool)
    starts[:, 1:] = position_ids[:, 1:] != position_ids[:, :-1] + 1
    out = []
    for row in starts:
        cuts = row.nonzero().flatten().tolist() + [length]
        out.append(list(zip(cuts, cuts[1:])))
    return out
