"""Test doubles for the judge: a fault-injecting OpenAI-compatible HTTP server and a scripted backend.

``FakeJudgeServer`` listens on 127.0.0.1 (a free port), counts every request it receives and answers each
with whatever ``respond(body, n)`` returns: a reply text, an HTTP error with headers, a delay, a garbage
body or a dropped connection.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

from sft_recipes.evaluation.judge.backends import Completion, TransportError


@dataclass
class Reply:
    text: str = ""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering (timeouts)
    body: bytes | None = None  # raw body instead of a chat completion (garbage)
    drop: bool = False  # close the connection without an answer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prompt_text(body: dict[str, Any]) -> str:
    return "\n".join(m["content"] for m in body.get("messages", []))


class FakeJudgeServer:
    def __init__(self, respond: Callable[[dict[str, Any], int], Reply], port: int | None = None) -> None:
        self.respond = respond
        self.requests: list[dict[str, Any]] = []
        self.times: list[float] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                with server._lock:
                    server.requests.append(body)
                    server.times.append(time.monotonic())
                    n = len(server.requests)
                reply = server.respond(body, n)
                if reply.delay:
                    time.sleep(reply.delay)
                try:
                    if reply.drop:
                        self.connection.shutdown(socket.SHUT_RDWR)
                        return
                    payload = reply.body if reply.body is not None else json.dumps(
                        _completion(body, reply.text) if reply.status == 200 else {"error": {"message": "fault"}}
                    ).encode()
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    for k, v in reply.headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:  # the client gave up (timeout test)
                    pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", port or 0), Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def count(self) -> int:
        with self._lock:
            return len(self.requests)

    def __enter__(self) -> "FakeJudgeServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def _completion(body: dict[str, Any], text: str) -> dict[str, Any]:
    prompt_tokens = len(prompt_text(body).split())
    completion_tokens = len(text.split())
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 0,
        "model": body.get("model", "judge"),
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens},
    }


class ScriptedBackend:
    """A judge whose reply is computed from the messages by ``script``; counts its calls. Unit tests only."""

    name = "scripted"

    def __init__(self, script: Callable[[list[dict[str, str]]], str], model: str = "scripted-judge") -> None:
        self.script = script
        self.model = model
        self.calls: list[list[dict[str, str]]] = []
        self._lock = threading.Lock()

    @property
    def params(self) -> dict[str, Any]:
        return {"temperature": 0.0}

    def complete(self, messages: list[dict[str, str]]) -> Completion:
        with self._lock:
            self.calls.append(messages)
        text = self.script(messages)
        if text is None:
            raise TransportError("scripted transport failure")
        return Completion(text=text, input_tokens=100, output_tokens=10, finish_reason="stop")


def write_generations(path, rows: list[dict[str, Any]]) -> str:
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
    return str(path)


def generation(i: int, tuned: str, base: str, reference: str | None = None) -> dict[str, Any]:
    return {"id": f"q{i}", "task": "summarize", "reference": reference,
            "messages": [{"role": "user", "content": f"Question number {i}?"}],
            "outputs": {"tuned": tuned, "base": base}}
