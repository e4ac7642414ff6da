"""A local stand-in for the Hugging Face Hub: just the endpoints ``create_repo`` + ``upload_folder`` call.

huggingface_hub 1.x/2.x pushes a folder as:
    POST /api/repos/create                              -> {"url": ...}         (409 when it exists)
    POST /api/validate-yaml                             -> {"errors": [], "warnings": []}   (README.md metadata)
    POST /api/models/{repo}/preupload/{revision}        -> per file: uploadMode "regular" | "lfs"
    POST /api/models/{repo}/commit/{revision}           <- ndjson: header, then one line per file (base64)
The server decides the upload mode; this one answers "regular" for every file, so the bytes travel inside the
commit and no LFS / Xet storage is involved (the real Hub sends large and binary files through Xet).
Every request must carry ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import yaml


@dataclass
class FakeRepo:
    repo_id: str
    private: bool
    files: dict[str, bytes] = field(default_factory=dict)
    commits: list[str] = field(default_factory=list)


class FakeHub:
    """Run with ``with FakeHub(token) as hub:``; ``hub.url`` is the endpoint, ``hub.repos`` what arrived."""

    def __init__(self, token: str, fail_commit_with: int | None = None) -> None:
        self.token = token
        self.fail_commit_with = fail_commit_with
        self.repos: dict[str, FakeRepo] = {}
        self.requests: list[tuple[str, str]] = []
        self.readme_metadata: list[dict] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> "FakeHub":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- endpoints ---------------------------------------------------------------------------------------------

    def create_repo(self, body: dict) -> tuple[int, dict]:
        repo_id = f"{body['organization']}/{body['name']}" if body.get("organization") else body["name"]
        if repo_id in self.repos:
            return 409, {"error": "You already created this model repo", "url": f"{self.url}/{repo_id}"}
        self.repos[repo_id] = FakeRepo(repo_id, private=body.get("visibility") == "private")
        return 200, {"url": f"{self.url}/{repo_id}", "name": repo_id}

    def validate_yaml(self, body: dict) -> tuple[int, dict]:
        match = re.match(r"---\n(.*?)\n---\n", body["content"], re.S)
        if match:
            try:
                self.readme_metadata.append(yaml.safe_load(match.group(1)))
            except yaml.YAMLError as e:
                return 400, {"errors": [{"message": f"invalid YAML: {e}"}]}
        return 200, {"errors": [], "warnings": []}

    def preupload(self, repo_id: str, body: dict) -> tuple[int, dict]:
        if repo_id not in self.repos:
            return 404, {"error": "Repository not found"}
        files = [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False, "oid": None}
                 for f in body["files"]]
        return 200, {"files": files, "commitOid": "0" * 40}

    def commit(self, repo_id: str, raw: bytes) -> tuple[int, dict]:
        if repo_id not in self.repos:
            return 404, {"error": "Repository not found"}
        if self.fail_commit_with:
            return self.fail_commit_with, {"error": "Internal Error - We're working hard to fix this as soon as possible!"}
        repo = self.repos[repo_id]
        staged: dict[str, bytes] = {}
        for line in raw.decode().splitlines():
            item = json.loads(line)
            if item["key"] == "header":
                message = item["value"]["summary"]
            elif item["key"] == "file":
                assert item["value"]["encoding"] == "base64"
                staged[item["value"]["path"]] = base64.b64decode(item["value"]["content"])
            else:
                return 400, {"error": f"this fake Hub only takes regular files, got {item['key']}"}
        repo.files.update(staged)  # a commit lands whole or not at all
        repo.commits.append(message)
        oid = f"{len(repo.commits):040x}"
        return 200, {"commitUrl": f"{self.url}/{repo_id}/commit/{oid}", "commitOid": oid}

    # -- HTTP plumbing -----------------------------------------------------------------------------------------

    def _handler(self):
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                hub.requests.append(("POST", self.path))
                if self.headers.get("Authorization") != f"Bearer {hub.token}":
                    return self._reply(401, {"error": "Invalid credentials in Authorization header"})
                path = self.path.split("?")[0]
                if path == "/api/repos/create":
                    return self._reply(*hub.create_repo(json.loads(raw)))
                if path == "/api/validate-yaml":
                    return self._reply(*hub.validate_yaml(json.loads(raw)))
                match = re.fullmatch(r"/api/models/([^/]+/[^/]+)/(preupload|commit)/([^/]+)", path)
                if match and match.group(2) == "preupload":
                    return self._reply(*hub.preupload(match.group(1), json.loads(raw)))
                if match:
                    return self._reply(*hub.commit(match.group(1), raw))
                self._reply(404, {"error": f"no such endpoint in the fake Hub: {path}"})

            def _reply(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if status >= 500:
                    self.send_header("Retry-After", "0")  # huggingface_hub retries 5xx; keep the retries quick
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:  # keep pytest output clean
                pass

        return Handler
