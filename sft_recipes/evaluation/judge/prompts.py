"""Judge prompts: versioned files under ``evaluation/judge/prompt_files/``, rendered into chat messages.

A prompt file is a YAML header (id, mode, scale, reference, system, verdict_only) and a template with ``{question}``,
``{answer}`` / ``{answer_a}`` ``{answer_b}`` and ``{reference}`` placeholders. Every judgment records the
prompt id and the hash of the file, so results from an edited prompt are never mixed up with older ones
(the hash is part of the cache key through the rendered messages). ``verdict_only`` is a short instruction that
replaces the template's first paragraph for the last re-ask: small judges that ramble or lose the format often
manage "reply with the verdict only" on a fresh prompt.

Candidate answers are untrusted text: they are fenced between start/end markers and their double brackets
are broken apart (``[[10]]`` -> ``[ [10] ]``), so the verdict syntax never appears inside the material the
judge is shown, and a judge that echoes a candidate cannot echo a verdict.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from sft_recipes import SFTRecipesError, one_line

PROMPT_DIR = Path(__file__).resolve().parent / "prompt_files"
SCALES = {"0-100": (0.0, 100.0), "1-10": (1.0, 10.0)}
PLACEHOLDER = re.compile(r"\{(question|answer|answer_a|answer_b|reference)\}")


class JudgePromptError(SFTRecipesError):
    pass


@dataclass(frozen=True)
class JudgePrompt:
    id: str
    mode: str  # "single" | "pairwise"
    scale: str | None  # "0-100" | "1-10" for single mode
    uses_reference: bool
    system: str | None
    template: str
    hash: str  # sha256 of the prompt file, first 16 hex digits
    path: str
    verdict_only: str | None = None  # the instruction paragraph of the verdict-only fallback prompt

    def render(self, question: str, answers: list[str], reference: str | None = None,
               verdict_only: bool = False) -> list[dict[str, str]]:
        """The chat messages for one judgment; ``answers`` has one answer (single) or two (pairwise, A then B).
        ``verdict_only`` swaps the instruction for the header's short verdict-only one."""
        expected = 1 if self.mode == "single" else 2
        if len(answers) != expected:
            raise JudgePromptError(f"prompt {self.id} needs {expected} answer(s), got {len(answers)}")
        if self.uses_reference and reference is None:
            raise JudgePromptError(f"prompt {self.id} needs a reference answer")
        values = {"question": question, "reference": reference or ""}
        if self.mode == "single":
            values["answer"] = answers[0]
        else:
            values["answer_a"], values["answer_b"] = answers
        values = {k: defuse(v) for k, v in values.items()}
        template = self.template
        if verdict_only:
            if not self.verdict_only:
                raise JudgePromptError(f"prompt {self.id} has no verdict_only instruction in its header")
            template = f"[Instruction]\n{self.verdict_only}\n\n" + template.split("\n\n", 1)[-1]
        # one pass: text substituted in is never scanned again for placeholders
        user = PLACEHOLDER.sub(lambda m: values[m.group(1)], template)
        messages = [{"role": "system", "content": self.system}] if self.system else []
        messages.append({"role": "user", "content": user})
        return messages


def defuse(text: str) -> str:
    """Break verdict brackets apart so untrusted text cannot contain a verdict string."""
    while "[[" in text or "]]" in text:
        text = text.replace("[[", "[ [").replace("]]", "] ]")
    return text


def load_prompt(name_or_path: str) -> JudgePrompt:
    """A prompt by id (``single_1_10_v1``) from the packaged prompts, or from a file path."""
    path = Path(name_or_path)
    if not path.suffix:
        path = PROMPT_DIR / f"{name_or_path}.md"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in PROMPT_DIR.glob("*.md")))
        raise JudgePromptError(f"judge prompt not found: {name_or_path} (packaged prompts: {known})")
    raw = path.read_text(encoding="utf-8")
    header, template = _split_header(raw, path)
    mode = header.get("mode")
    if mode not in ("single", "pairwise"):
        raise JudgePromptError(f"{path}: header 'mode' must be single or pairwise, got {mode!r}")
    scale = header.get("scale")
    if mode == "single" and scale not in SCALES:
        raise JudgePromptError(f"{path}: header 'scale' must be one of {', '.join(SCALES)}, got {scale!r}")
    uses_reference = bool(header.get("reference", False))
    needed = {"question"} | ({"answer"} if mode == "single" else {"answer_a", "answer_b"})
    if uses_reference:
        needed.add("reference")
    found = set(PLACEHOLDER.findall(template))
    if found != needed:
        raise JudgePromptError(
            f"{path}: template placeholders {sorted(found)} do not match the header (expected {sorted(needed)})"
        )
    return JudgePrompt(
        id=str(header.get("id") or path.stem),
        mode=mode,
        scale=scale if mode == "single" else None,
        uses_reference=uses_reference,
        system=header.get("system"),
        template=template,
        hash=hashlib.sha256(raw.encode("utf-8")).hexdigest()[:16],
        path=str(path),
        verdict_only=header.get("verdict_only"),
    )


def default_prompt_id(mode: str, scale: str = "1-10", with_reference: bool = False, version: str = "v1") -> str:
    ref = "_ref" if with_reference else ""
    if mode == "pairwise":
        return f"pairwise{ref}_{version}"
    return f"single_{scale.replace('-', '_')}{ref}_{version}"


def _split_header(raw: str, path: Path) -> tuple[dict, str]:
    if not raw.startswith("---\n"):
        raise JudgePromptError(f"{path}: a judge prompt starts with a '---' YAML header")
    end = raw.find("\n---\n", 4)
    if end < 0:
        raise JudgePromptError(f"{path}: the YAML header is not closed with '---'")
    try:
        header = yaml.safe_load(raw[4:end]) or {}
    except yaml.YAMLError as e:
        raise JudgePromptError(f"{path}: invalid YAML header: {one_line(e)}") from None
    if not isinstance(header, dict):
        raise JudgePromptError(f"{path}: the header must be a mapping")
    return header, raw[end + 5 :]
