"""An Ollama ``Modelfile`` beside a GGUF: FROM the file, the chat template in Go template form, the stop strings.

Ollama templates are Go templates, not Jinja. The Go form is derived from the run's own template by rendering a
conversation whose contents are markers and reading off the text around each turn; it is kept only when the parts,
put back together, reproduce the tokenizer's rendering of a multi-turn conversation exactly. A template that does not
decompose that way (history rewritten, roles folded) gets no TEMPLATE line: Ollama then falls back to the chat template
stored in the GGUF. A default system prompt the template injects becomes the Modelfile's SYSTEM.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

MODELFILE = "Modelfile"
_M = "\u2063MARK{}\u2063"  # markers no template text contains


@dataclass
class TurnFormat:
    """The literal text around each turn of a chat template."""

    system_prefix: str
    system_suffix: str
    user_prefix: str
    after_user: str  # user turn end + assistant turn start (the same as the generation prompt)
    assistant_suffix: str
    default_system: str | None = None

    def render(self, messages: list[dict[str, str]], add_generation_prompt: bool = False) -> str:
        """What the Go template renders for ``messages`` (a system turn first, if any)."""
        out = []
        if self.default_system is not None and (not messages or messages[0]["role"] != "system"):
            out.append(self.system_prefix + self.default_system + self.system_suffix)
        for m in messages:
            if m["role"] == "system":
                out.append(self.system_prefix + m["content"] + self.system_suffix)
            elif m["role"] == "user":
                out.append(self.user_prefix + m["content"] + self.after_user)
            else:
                out.append(m["content"] + self.assistant_suffix)
        return "".join(out)

    def go_template(self) -> str:
        q = _go_literal
        return (
            "{{- range .Messages }}\n"
            f'{{{{- if eq .Role "system" }}}}{q(self.system_prefix)}{{{{ .Content }}}}{q(self.system_suffix)}\n'
            f'{{{{- else if eq .Role "user" }}}}{q(self.user_prefix)}{{{{ .Content }}}}{q(self.after_user)}\n'
            f'{{{{- else if eq .Role "assistant" }}}}{{{{ .Content }}}}{q(self.assistant_suffix)}\n'
            "{{- end }}\n{{- end }}"
        )


def _go_literal(text: str) -> str:
    """Text as a Go template action, so newlines and braces survive the ``{{-`` trimming around it."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'{{{{ "{escaped}" }}}}' if text else ""


def turn_format(tokenizer: Any, template_kwargs: dict[str, Any] | None = None) -> TurnFormat | None:
    """The template's turn parts, or None when they do not reproduce its rendering."""
    kw = dict(template_kwargs or {})

    def render(messages, gen=False):
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=gen, **kw)

    s, u1, a1, u2, a2 = (_M.format(i) for i in range(5))
    try:
        full = render([{"role": "system", "content": s}, {"role": "user", "content": u1},
                       {"role": "assistant", "content": a1}, {"role": "user", "content": u2},
                       {"role": "assistant", "content": a2}])
        prompt = render([{"role": "system", "content": s}, {"role": "user", "content": u1}], gen=True)
        alone = render([{"role": "user", "content": u1}], gen=True)
    except Exception:  # a template that refuses a system role or this conversation shape
        return None
    parts = _split(full, [s, u1, a1, u2, a2])
    if parts is None:
        return None
    p0, p1, p2, p3, p4, p5 = parts
    if p2 != p4 or not p3.startswith(p5) or not p1.endswith(p3[len(p5):]) or not prompt.endswith(u1 + p2):
        return None
    user_prefix = p3[len(p5):]
    fmt = TurnFormat(p0, p1[: len(p1) - len(user_prefix)], user_prefix, p2, p5)
    head = alone[: alone.find(u1)] if u1 in alone else None
    if head is None or not head.endswith(user_prefix):
        return None
    injected = head[: len(head) - len(user_prefix)]
    if injected:
        if not (injected.startswith(fmt.system_prefix) and injected.endswith(fmt.system_suffix)):
            return None
        fmt.default_system = injected[len(fmt.system_prefix): len(injected) - len(fmt.system_suffix)]
    return fmt if _reproduces(fmt, render) else None


def _split(text: str, markers: list[str]) -> list[str] | None:
    parts, rest = [], text
    for marker in markers:
        if rest.count(marker) != 1:
            return None
        before, rest = rest.split(marker)
        parts.append(before)
    return parts + [rest]


def _reproduces(fmt: TurnFormat, render) -> bool:
    convo = [{"role": "user", "content": "Which court?"}, {"role": "assistant", "content": "The Ninth Circuit."},
             {"role": "user", "content": "Outcome?"}]
    with_system = [{"role": "system", "content": "Be brief."}] + convo
    return all(render(m, True) == fmt.render(m) for m in (convo, with_system))


def modelfile_text(gguf_name: str, stops: list[str], fmt: TurnFormat | None) -> str:
    lines = [f"FROM ./{gguf_name}", ""]
    if fmt is not None:
        lines += [f'TEMPLATE """{fmt.go_template()}"""', ""]
        if fmt.default_system is not None:
            lines += [f'SYSTEM """{fmt.default_system}"""', ""]
    else:
        lines += ["# no TEMPLATE: the chat template stored in the GGUF is used", ""]
    lines += [f"PARAMETER stop {_quoted(s)}" for s in stops]
    return "\n".join(lines) + "\n"


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def write_modelfile(directory: str | Path, gguf_name: str, tokenizer: Any, stops: list[str],
                    template_kwargs: dict[str, Any] | None = None) -> Path:
    path = Path(directory) / MODELFILE
    text = modelfile_text(gguf_name, list(dict.fromkeys(stops)), turn_format(tokenizer, template_kwargs))
    path.write_text(text, encoding="utf-8")
    return path
