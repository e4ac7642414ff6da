"""``report_to``: every tracker a recipe names must be importable before any work starts.

transformers finds out only when the trainer is built, after the data is prepared and the model loaded; here a
missing package is one line at load time with the command that installs it. ``trackio`` is the local-first choice:
it logs to a local SQLite database and shows the runs with ``trackio show``, no account or server needed.
"""

from __future__ import annotations

import importlib.util
from typing import Any

# report_to name -> (module that must import, what to install)
TRACKERS: dict[str, tuple[str, str]] = {
    "trackio": ("trackio", "trackio"),
    "tensorboard": ("tensorboard", "tensorboard"),
    "wandb": ("wandb", "wandb"),
    "mlflow": ("mlflow", "mlflow"),
    "comet_ml": ("comet_ml", "comet_ml"),
    "neptune": ("neptune", "neptune"),
    "clearml": ("clearml", "clearml"),
    "aim": ("aim", "aim"),
    "dvclive": ("dvclive", "dvclive"),
    "codecarbon": ("codecarbon", "codecarbon"),
    "azure_ml": ("azureml", "azureml-sdk"),
    "dagshub": ("dagshub", "dagshub"),
    "flyte": ("flytekit", "flytekit flytekitplugins-deck-standard"),
    "swanlab": ("swanlab", "swanlab"),
}


def missing_trackers(report_to: Any) -> list[str]:
    """One line per tracker in ``report_to`` whose package is not importable (``all`` / ``none`` need nothing)."""
    names = [report_to] if isinstance(report_to, str) else list(report_to or [])
    lines = []
    for name in names:
        if name in ("none", "all") or name not in TRACKERS:
            continue
        module, package = TRACKERS[name]
        if importlib.util.find_spec(module) is None:
            lines.append(f"report_to: {name} is not installed: pip install {package} "
                         f"(or report_to: trackio, local-first: pip install trackio; or report_to: none)")
    return lines


__all__ = ["TRACKERS", "missing_trackers"]
