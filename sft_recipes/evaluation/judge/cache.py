"""A persistent cache of finished judgments, so a rerun asks the judge nothing it already answered.

Keyed by a hash of (backend, model, decoding parameters, the rendered messages): changing the prompt file,
the judge model or its parameters is a miss. Judgments that ended with a valid verdict are stored, and so are
deterministic failures (a 4xx refusal of this exact request, a greedy judge's unusable replies; marked
``status: failed``) so a rerun does not send them again; transient failures are never stored.
SQLite (standard library) keeps it safe to write from the runner's threads and across interrupted runs.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

CACHE_VERSION = 1


def cache_key(backend: str, model: str, params: dict[str, Any], messages: list[dict[str, str]]) -> str:
    payload = {"v": CACHE_VERSION, "backend": backend, "model": model, "params": params, "messages": messages}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()


class JudgmentCache:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False)
        with self._lock, self._db:
            self._db.execute("CREATE TABLE IF NOT EXISTS judgments (key TEXT PRIMARY KEY, value TEXT NOT NULL)")

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM judgments WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, key: str, value: dict[str, Any]) -> None:
        with self._lock, self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO judgments (key, value) VALUES (?, ?)", (key, json.dumps(value, ensure_ascii=False))
            )

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM judgments").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()
