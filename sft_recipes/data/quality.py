"""Data quality analysis of conversation rows: the things worth knowing before spending compute on a data set.

    lengths         tokens per instruction, per response and per rendered row, with the recipe's tokenizer
                    (rows over ``max_length`` are counted: ``prepare`` would drop or truncate them)
    openings        the most frequent first words of instructions and responses: a set where 30% of responses
                    start "I'm sorry, but" teaches that opening, whatever the content
    diversity       unique-instruction ratio; distinct-1 / distinct-2 of responses (unique n-grams / all n-grams,
                    the measure of Li et al. 2016): low values mean templated, repetitive answers
    near-duplicates MinHash over word 5-gram shingles with LSH (``datasketch``), every candidate pair then checked
                    with the exact Jaccard similarity of its shingle sets, so no reported pair is a hash artefact.
                    Rows of one group (the questions built from one court opinion) share their document by design:
                    their pairs are counted apart and not reported as duplicates.

``analyze_rows`` returns one JSON-ready dict; ``quality_report.write_quality_report`` writes report.json, report.md
and plots/*.png.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter, defaultdict
from typing import Any, Iterable, Sequence

from tqdm.auto import tqdm

from sft_recipes import SFTRecipesError

SHINGLE_WORDS = 5
NUM_PERM = 128
NEAR_DUP_THRESHOLD = 0.7
OPENING_WORDS = (1, 2, 3)
TOP_OPENINGS = 10
REPORTED_PAIRS = 50  # near-duplicate pairs listed in report.json (all are counted)
_WORD = re.compile(r"\w+", re.UNICODE)


class QualityError(SFTRecipesError):
    pass


# --- text views of a row ---------------------------------------------------------------------------------------


def instruction_text(row: dict[str, Any]) -> str:
    """Every user turn of the row, joined (the first one is what people call "the instruction")."""
    return "\n\n".join(m["content"] for m in row["messages"] if m["role"] == "user")


def first_instruction(row: dict[str, Any]) -> str:
    return next((m["content"] for m in row["messages"] if m["role"] == "user"), "")


def response_texts(row: dict[str, Any]) -> list[str]:
    return [m["content"] for m in row["messages"] if m["role"] == "assistant"]


def words(text: str) -> list[str]:
    """Lowercased word tokens (punctuation dropped): the unit of openings, distinct-n and shingles."""
    return _WORD.findall(text.lower())


# --- lengths -----------------------------------------------------------------------------------------------------


def percentiles(values: Sequence[int]) -> dict[str, float]:
    if not values:
        return {}
    s = sorted(values)

    def pct(p: float) -> int:
        return s[min(len(s) - 1, int(round(p * (len(s) - 1))))]

    return {"min": s[0], "mean": round(statistics.fmean(s), 1), "p50": pct(0.5), "p90": pct(0.9),
            "p95": pct(0.95), "p99": pct(0.99), "max": s[-1]}


def token_lengths(rows: Sequence[dict[str, Any]], tokenizer) -> dict[str, list[int]]:
    """Per row: instruction tokens (user turns), response tokens (assistant turns), and the whole rendered row.

    The whole row is rendered with the tokenizer's chat template when it has one (what training sees, special
    tokens included); without one it is the sum of every message's tokens.
    """
    def count(texts: Iterable[str]) -> int:
        return sum(len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts)

    out: dict[str, list[int]] = {"instruction": [], "response": [], "total": []}
    for row in tqdm(rows, desc="counting tokens", unit="rows", disable=len(rows) < 2000, leave=False):
        messages = [{"role": m["role"], "content": m["content"]} for m in row["messages"]]
        out["instruction"].append(count(m["content"] for m in messages if m["role"] == "user"))
        out["response"].append(count(m["content"] for m in messages if m["role"] == "assistant"))
        if tokenizer.chat_template and any(m["role"] == "user" for m in messages):
            rendered = tokenizer.apply_chat_template(messages, tokenize=False)
            out["total"].append(len(tokenizer(rendered, add_special_tokens=False)["input_ids"]))
        else:
            out["total"].append(count(m["content"] for m in messages))
    return out


def length_report(lengths: dict[str, list[int]], max_length: int | None) -> dict[str, Any]:
    report: dict[str, Any] = {name: percentiles(values) for name, values in lengths.items()}
    if max_length:
        over = sum(1 for n in lengths["total"] if n > max_length)
        report["max_length"] = max_length
        report["over_max_length"] = over
        report["over_max_length_share"] = round(over / max(len(lengths["total"]), 1), 4)
    return report


# --- openings and diversity -------------------------------------------------------------------------------------


def top_openings(texts: Iterable[str], n: int, top: int = TOP_OPENINGS) -> list[dict[str, Any]]:
    """The ``top`` most frequent first-``n``-word starts that occur more than once, with counts and shares.

    Texts with fewer than ``n`` words are skipped; a share is of the texts that have ``n`` words.
    """
    starts = [" ".join(w[:n]) for w in (words(t) for t in texts) if len(w) >= n]
    counts = Counter(starts)
    total = len(starts)
    return [{"opening": k, "count": c, "share": round(c / total, 4)} for k, c in counts.most_common(top) if c > 1]


def distinct_n(texts: Iterable[str], n: int) -> float:
    """Unique n-grams / all n-grams over all texts (0 when there is no n-gram at all)."""
    grams: list[tuple[str, ...]] = []
    for t in texts:
        w = words(t)
        grams.extend(tuple(w[i : i + n]) for i in range(len(w) - n + 1))
    return len(set(grams)) / len(grams) if grams else 0.0


def diversity(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    instructions = [" ".join(words(instruction_text(r))) for r in rows]
    responses = [t for r in rows for t in response_texts(r)]
    return {
        "rows": len(rows),
        "unique_instructions": len(set(instructions)),
        "unique_instruction_ratio": round(len(set(instructions)) / max(len(instructions), 1), 4),
        "unique_response_ratio": round(len({" ".join(words(t)) for t in responses}) / max(len(responses), 1), 4),
        "distinct_1": round(distinct_n(responses, 1), 4),
        "distinct_2": round(distinct_n(responses, 2), 4),
    }


# --- near-duplicates --------------------------------------------------------------------------------------------


def shingles(text: str, k: int = SHINGLE_WORDS) -> set[str]:
    """Word k-grams; a text shorter than k words is one shingle (so short rows still compare)."""
    w = words(text)
    if len(w) < k:
        return {" ".join(w)} if w else set()
    return {" ".join(w[i : i + k]) for i in range(len(w) - k + 1)}


def jaccard(a: set[str], b: set[str]) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def row_text(row: dict[str, Any]) -> str:
    """What two rows are compared on: instruction and response turns (system prompts are shared by design)."""
    return "\n".join(m["content"] for m in row["messages"] if m["role"] != "system")


def near_duplicates(
    rows: Sequence[dict[str, Any]],
    threshold: float = NEAR_DUP_THRESHOLD,
    num_perm: int = NUM_PERM,
    shingle_words: int = SHINGLE_WORDS,
    seed: int = 1,
) -> dict[str, Any]:
    """Pairs of rows whose shingle sets have Jaccard >= ``threshold`` (LSH candidates, verified exactly).

    Returns the pairs across groups (sorted by similarity, each with both sources), how many pairs were found
    within a group, and clusters: connected components of the cross-group pairs, i.e. sets of rows that are
    near-copies of one another. ``seed`` fixes the MinHash permutations, so reruns report the same pairs.
    """
    if not 0 < threshold <= 1:
        raise QualityError(f"near-duplicate threshold must be in (0, 1], got {threshold}")

    sets = [shingles(row_text(r), shingle_words) for r in rows]
    hashes, lsh = _minhash_index(sets, threshold, num_perm, seed)
    pairs, within_group = _similar_pairs(rows, sets, hashes, lsh, threshold)
    pairs.sort(key=lambda p: (-p["jaccard"], p["a"], p["b"]))
    clusters = _components(len(rows), [(p["a"], p["b"]) for p in pairs])
    in_clusters = sum(len(c) for c in clusters)
    return {
        "threshold": threshold,
        "num_perm": num_perm,
        "shingle_words": shingle_words,
        "pairs": len(pairs),
        "exact_pairs": sum(1 for p in pairs if p["jaccard"] == 1.0),
        "within_group_pairs": within_group,
        "clusters": len(clusters),
        "rows_in_clusters": in_clusters,
        # rows that could go while keeping one row per cluster
        "removable_rows": in_clusters - len(clusters),
        "removable_share": round((in_clusters - len(clusters)) / max(len(rows), 1), 4),
        "largest_clusters": [[rows[i].get("source", str(i)) for i in c] for c in clusters[:10]],
        "top_pairs": pairs[:REPORTED_PAIRS],
        "similarities": [p["jaccard"] for p in pairs],
    }


def _minhash_index(sets: list[set[str]], threshold: float, num_perm: int, seed: int):
    """MinHash of every row's shingles, and an LSH index of the rows that have any."""
    try:
        from datasketch import MinHash, MinHashLSH
    except ImportError:
        raise QualityError("near-duplicate detection needs datasketch: pip install 'datasketch>=2.0,<3'") from None
    encoded = [[s.encode("utf-8") for s in sorted(shingle_set)] for shingle_set in sets]
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    hashes = []
    bar = tqdm(MinHash.generator(encoded, num_perm=num_perm, seed=seed), total=len(encoded), desc="minhash",
               unit="rows", disable=len(sets) < 2000, leave=False)
    for i, mh in enumerate(bar):
        hashes.append(mh)
        if sets[i]:
            lsh.insert(i, mh)
    return hashes, lsh


def _similar_pairs(rows, sets, hashes, lsh, threshold: float) -> tuple[list[dict[str, Any]], int]:
    """LSH candidates verified by exact Jaccard: the pairs across groups, and how many fell within a group."""
    groups = [str(r.get("group") or r.get("id") or r.get("source") or i) for i, r in enumerate(rows)]
    pairs: list[dict[str, Any]] = []
    within_group = 0
    for i, mh in enumerate(hashes):
        if not sets[i]:
            continue
        for j in lsh.query(mh):
            if j <= i:
                continue
            similarity = jaccard(sets[i], sets[j])
            if similarity < threshold:
                continue  # an LSH candidate that is not similar enough
            if groups[i] == groups[j]:
                within_group += 1
                continue
            pairs.append({"a": i, "b": j, "jaccard": round(similarity, 4),
                          "source_a": rows[i].get("source", ""), "source_b": rows[j].get("source", "")})
    return pairs, within_group


def _components(n: int, edges: list[tuple[int, int]]) -> list[list[int]]:
    """Connected components with more than one member, largest first (union-find)."""
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    members: dict[int, list[int]] = defaultdict(list)
    for x in {v for e in edges for v in e}:
        members[find(x)].append(x)
    return sorted((sorted(m) for m in members.values()), key=lambda m: (-len(m), m[0]))


# --- the whole analysis -----------------------------------------------------------------------------------------


def analyze_rows(
    rows: Sequence[dict[str, Any]],
    tokenizer=None,
    *,
    max_length: int | None = None,
    threshold: float = NEAR_DUP_THRESHOLD,
    seed: int = 1,
) -> dict[str, Any]:
    """Every measure of this module on ``rows``; token lengths only when a tokenizer is given."""
    if not rows:
        raise QualityError("no rows to analyse")
    report: dict[str, Any] = {"rows": len(rows), "tasks": dict(Counter(r.get("task") or "(none)" for r in rows))}
    if tokenizer is not None:
        lengths = token_lengths(rows, tokenizer)
        report["lengths"] = length_report(lengths, max_length)
        report["_length_values"] = lengths  # for the plots; not written to report.json
    instructions = [first_instruction(r) for r in rows]
    responses = [t for r in rows for t in response_texts(r)]
    report["openings"] = {
        "instruction": {str(n): top_openings(instructions, n) for n in OPENING_WORDS},
        "response": {str(n): top_openings(responses, n) for n in OPENING_WORDS},
    }
    report["diversity"] = diversity(rows)
    report["near_duplicates"] = near_duplicates(rows, threshold=threshold, seed=seed)
    return report
