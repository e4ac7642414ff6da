"""The dataset keys of ``trl sft`` and of the alignment-handbook -> sft-recipes' ``datasets`` entries.

    dataset_name / dataset_config / dataset_train_split    one entry {path, name, split}
    dataset_test_split                                     an eval_test_data entry (evaluated after training)
    dataset_mixture: {datasets: [{id, config, split, columns, weight}], seed, test_split_size}
                                                           one entry each; a list of columns keeps those columns;
                                                           test_split_size -> validation_size
    dataset_mixer: {name: fraction} (+ dataset_splits, dataset_configs)   the handbook's older form
"""

from __future__ import annotations

from typing import Any

MIXTURE_ENTRY_KEYS = {"id": "path", "config": "name", "split": "split", "columns": "columns", "weight": "weight"}


def datasets_from_aliases(given: dict[str, Any], out: dict[str, Any], notes: list[str]) -> list[str]:
    """Fill ``out["datasets"]`` (and eval_test_data, validation_size) from the aliases in ``given``; the errors."""
    forms = [k for k in ("dataset_name", "dataset_mixture", "dataset_mixer") if given.get(k) is not None]
    if "datasets" in given and forms:
        return [f"{forms[0]} and datasets both list the data: keep one"]
    if len(forms) > 1:
        return [f"{forms[0]} and {forms[1]} both list the data: keep one"]
    errors: list[str] = []
    if given.get("dataset_streaming") in (True, "true", "True"):
        errors.append("dataset_streaming: true is not supported: prepare reads each dataset once (cap it with "
                      "max_samples on its datasets entry)")
    for key in ("dataset_config", "dataset_train_split", "dataset_test_split"):
        if key in given and "dataset_name" not in given:
            errors.append(f"{key} belongs with dataset_name (or give name/split on a datasets entry)")
    if "dataset_name" in given and given["dataset_name"] is not None:
        errors += _from_dataset_name(given, out, notes)
    elif given.get("dataset_mixture") is not None:
        errors += _from_mixture(given["dataset_mixture"], out, notes)
    elif given.get("dataset_mixer") is not None:
        errors += _from_mixer(given, out)
    return errors


def _from_dataset_name(given: dict[str, Any], out: dict[str, Any], notes: list[str]) -> list[str]:
    entry: dict[str, Any] = {"path": str(given["dataset_name"])}
    if given.get("dataset_config") is not None:
        entry["name"] = str(given["dataset_config"])
    if given.get("dataset_train_split") is not None:
        entry["split"] = str(given["dataset_train_split"])
    out["datasets"] = [entry]
    test_split = given.get("dataset_test_split")
    if test_split is not None:
        out["eval_test_data"] = [*out.get("eval_test_data", []), {**entry, "split": str(test_split)}]
        notes.append(f"dataset_test_split: {test_split!r} is evaluated after training (eval_test_data); "
                     "validation during training uses validation_size of the training split")
    return []


def _from_mixture(mixture: Any, out: dict[str, Any], notes: list[str]) -> list[str]:
    if not isinstance(mixture, dict) or not isinstance(mixture.get("datasets"), list):
        return ["dataset_mixture expects {datasets: [{id, config, split, columns, weight}, ...], seed, "
                "test_split_size}"]
    errors = []
    unknown = sorted(set(mixture) - {"datasets", "seed", "test_split_size"})
    if unknown:
        errors.append(f"dataset_mixture: unknown key {unknown[0]!r} (keys: datasets, seed, test_split_size)")
    entries = []
    for i, item in enumerate(mixture["datasets"], start=1):
        if not isinstance(item, dict) or "id" not in item:
            errors.append(f"dataset_mixture.datasets[{i}]: each entry needs an 'id', got {item!r}")
            continue
        extra = sorted(set(item) - set(MIXTURE_ENTRY_KEYS))
        if extra:
            errors.append(f"dataset_mixture.datasets[{i}]: unknown key {extra[0]!r} "
                          f"(keys: {', '.join(MIXTURE_ENTRY_KEYS)})")
            continue
        entries.append({MIXTURE_ENTRY_KEYS[k]: (str(v) if k in ("id", "config", "split") else v)
                        for k, v in item.items() if v is not None})
    out["datasets"] = entries
    size = mixture.get("test_split_size")
    if size is not None:
        out.setdefault("validation_size", size)
        notes.append(f"dataset_mixture.test_split_size: {size} rows held out for evaluation during training "
                     "(validation_size)" if isinstance(size, int) and size >= 1 else
                     f"dataset_mixture.test_split_size: {size} of the rows held out (validation_size)")
    if mixture.get("seed") is not None and mixture.get("seed") != out.get("seed"):
        notes.append(f"dataset_mixture.seed: {mixture['seed']} not used: mixing and splitting follow seed")
    return errors


def _from_mixer(given: dict[str, Any], out: dict[str, Any]) -> list[str]:
    mixer, splits = given["dataset_mixer"], given.get("dataset_splits") or ["train", "test"]
    configs = given.get("dataset_configs") or []
    if not isinstance(mixer, dict) or not isinstance(splits, list):
        return ["dataset_mixer expects {dataset: fraction, ...} and dataset_splits a list of split names"]
    train, test = [], []
    for i, (name, fraction) in enumerate(mixer.items()):
        config = configs[i] if i < len(configs) else None
        for split in splits:
            entry = {"path": str(name), "split": str(split), **({"name": str(config)} if config else {})}
            if "train" in str(split):
                train.append({**entry, "weight": fraction})
            elif "test" in str(split):
                test.append(entry)
            else:
                return [f"dataset_splits: {split!r} is neither a train* nor a test* split"]
    out["datasets"] = train
    if test:
        out["eval_test_data"] = [*out.get("eval_test_data", []), *test]
    return []


__all__ = ["datasets_from_aliases"]
