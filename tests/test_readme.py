"""The README is edited by hand and by scripts that splice tables into it: each section must appear once."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_every_readme_heading_appears_once():
    sections = Counter(line for line in README.read_text(encoding="utf-8").splitlines() if line.startswith("## "))
    repeated = {h: n for h, n in sections.items() if n > 1}
    assert not repeated, f"README sections repeated: {repeated}"
