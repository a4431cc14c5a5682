"""A small fake Hugging Face Hub on 127.0.0.1, with switches for faults.

It serves what huggingface_hub's download code asks for, as the real Hub does:

- ``GET /api/models/{org}/{name}[/revision/{rev}]``: repo info (``sha``, ``siblings``)
- ``GET /api/models/{org}/{name}/tree/{rev}``: the file listing (oid, size, lfs)
- ``HEAD|GET /{org}/{name}/resolve/{rev}/{file}``: small files answer 200 with
  ``ETag`` (git blob sha1), ``X-Repo-Commit`` and ``Content-Length``; LFS files
  (``*.safetensors``, ``*.bin``, ...) answer 302 with ``X-Linked-Etag`` (sha256),
  ``X-Linked-Size`` and a ``Location`` on another host ("localhost", standing in
  for the CDN), where ``GET /cdn/{sha256}`` serves the bytes with Range support.
- errors carry ``X-Error-Code`` (RepoNotFound, RevisionNotFound, EntryNotFound,
  GatedRepo), which is how huggingface_hub picks its exception class.

Faults (plain attributes, change them at any time):

- ``truncate = {"model.safetensors": 40}``: responses for that file stop after
  byte 40 of the file and the connection is closed; a resumed request (Range)
  starting at or past byte 40 is dropped without an answer.
  ``truncate_times = n`` limits this to the first n responses (None: always).
- ``stall = {"model.safetensors": 40}``: send 40 bytes, then hold the connection
  open without sending more (until the server stops, or 30 s).
- ``tampered = {"model.safetensors"}``: serve the file with its last byte flipped
  (same size, headers still announce the original hash).
- ``gated = {"org/name"}``: answer 403 GatedRepo.
- A repo that was never added answers 404 RepoNotFound; an unknown revision 404
  RevisionNotFound.

    with FakeHub() as hub:
        hub.add_repo("org/name", folder)
        env = {"HF_ENDPOINT": hub.url}

The server stops when the ``with`` block ends, on ``stop()``, or after
``lifetime`` seconds at the latest.
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

LFS_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".pkl")


def git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class RepoFile:
    data: bytes
    sha1: str
    sha256: str
    lfs: bool


@dataclass
class Repo:
    repo_id: str
    commit: str
    files: dict[str, RepoFile]
    revisions: set[str] = field(default_factory=set)


class FakeHub:
    """A threaded HTTP server speaking enough of the Hub protocol for downloads."""

    def __init__(self, lifetime: float = 120.0) -> None:
        self.repos: dict[str, Repo] = {}
        self.truncate: dict[str, int] = {}
        self.truncate_times: int | None = None
        self.stall: dict[str, int] = {}
        self.tampered: set[str] = set()
        self.gated: set[str] = set()
        self.requests: list[tuple[str, str, str]] = []  # (method, path, Range header)
        self.lifetime = lifetime
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._timer: threading.Timer | None = None
        self.port = 0

    # -- setup -----------------------------------------------------------------------

    def add_repo(
        self, repo_id: str, folder: str | Path, revisions: tuple[str, ...] = ("main",)
    ) -> str:
        """Serve the files of ``folder`` (read now) as ``repo_id``; returns the commit hash."""
        files: dict[str, RepoFile] = {}
        for path in sorted(Path(folder).rglob("*")):
            if path.is_file():
                name = path.relative_to(folder).as_posix()
                data = path.read_bytes()
                files[name] = RepoFile(
                    data=data,
                    sha1=git_blob_sha1(data),
                    sha256=hashlib.sha256(data).hexdigest(),
                    lfs=name.endswith(LFS_SUFFIXES),
                )
        listing = "".join(f"{n}\0{f.sha1}\n" for n, f in sorted(files.items()))
        commit = hashlib.sha1(f"{repo_id}\n{listing}".encode()).hexdigest()
        self.repos[repo_id] = Repo(repo_id, commit, files, set(revisions))
        return commit

    def clear_faults(self) -> None:
        self.truncate.clear()
        self.truncate_times = None
        self.stall.clear()
        self.tampered.clear()
        self.gated.clear()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeHub:
        hub = self

        class Handler(_Handler):
            fake = hub

        self._server = _Server(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        self._timer = threading.Timer(self.lifetime, self.stop)
        self._timer.daemon = True
        self._timer.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        server, self._server = self._server, None
        if self._timer is not None and self._timer is not threading.current_thread():
            self._timer.cancel()
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeHub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- answering -------------------------------------------------------------------

    def _repo_and_commit(self, h: _Handler, repo_id: str, rev: str) -> tuple[Repo, str] | None:
        repo = self.repos.get(repo_id)
        if repo is None:
            h.reply(
                404, {"X-Error-Code": "RepoNotFound", "X-Error-Message": "Repository not found"}
            )
            return None
        if repo_id in self.gated:
            h.reply(403, {"X-Error-Code": "GatedRepo", "X-Error-Message": "Access restricted"})
            return None
        if rev != repo.commit and rev not in repo.revisions:
            h.reply(
                404,
                {"X-Error-Code": "RevisionNotFound", "X-Error-Message": f"Invalid rev id: {rev}"},
            )
            return None
        return repo, repo.commit

    def _api(self, h: _Handler, parts: list[str]) -> None:
        if len(parts) < 2:
            h.reply(404)
            return
        repo_id, rest = f"{parts[0]}/{parts[1]}", parts[2:]
        rev = rest[1] if len(rest) >= 2 else "main"
        found = self._repo_and_commit(h, repo_id, rev)
        if found is None:
            return
        repo, commit = found
        if not rest or rest[0] == "revision":
            info = {
                "_id": commit[:24],
                "id": repo_id,
                "modelId": repo_id,
                "sha": commit,
                "private": False,
                "gated": False,
                "disabled": False,
                "tags": [],
                "siblings": [{"rfilename": name} for name in repo.files],
            }
            h.reply_json(info, {"X-Repo-Commit": commit})
        elif rest[0] == "tree":
            entries: list[dict[str, Any]] = []
            for name, f in repo.files.items():
                entry: dict[str, Any] = {
                    "type": "file",
                    "oid": f.sha1,
                    "size": len(f.data),
                    "path": name,
                }
                if f.lfs:
                    entry["lfs"] = {"oid": f.sha256, "size": len(f.data), "pointerSize": 134}
                entries.append(entry)
            h.reply_json(entries, {"X-Repo-Commit": commit})
        else:
            h.reply(404)

    def _resolve(self, h: _Handler, parts: list[str], head: bool) -> None:
        repo_id, rev, fname = f"{parts[0]}/{parts[1]}", parts[3], "/".join(parts[4:])
        found = self._repo_and_commit(h, repo_id, rev)
        if found is None:
            return
        repo, commit = found
        f = repo.files.get(fname)
        if f is None:
            h.reply(404, {"X-Error-Code": "EntryNotFound", "X-Repo-Commit": commit})
            return
        if f.lfs:
            query = f"repo={quote(repo_id, safe='')}&file={quote(fname, safe='')}"
            h.reply(
                302,
                {
                    "Location": f"http://localhost:{self.port}/cdn/{f.sha256}?{query}",
                    "X-Repo-Commit": commit,
                    "X-Linked-Etag": f'"{f.sha256}"',
                    "X-Linked-Size": str(len(f.data)),
                    "ETag": f'"{git_blob_sha1(b"pointer " + f.sha256.encode())}"',
                },
            )
            return
        self._body(h, fname, f.data, head, {"ETag": f'"{f.sha1}"', "X-Repo-Commit": commit})

    def _cdn(self, h: _Handler, sha256: str, query: dict[str, list[str]], head: bool) -> None:
        fname = (query.get("file") or [""])[0]
        for repo in self.repos.values():
            for name, f in repo.files.items():
                if f.sha256 == sha256 and (not fname or name == fname):
                    self._body(h, name, f.data, head, {"ETag": f'"{sha256}"'})
                    return
        h.reply(404)

    def _body(
        self, h: _Handler, fname: str, data: bytes, head: bool, headers: dict[str, str]
    ) -> None:
        if fname in self.tampered and data:
            data = data[:-1] + bytes([data[-1] ^ 0xFF])
        start, end, status = 0, len(data), 200
        headers = {**headers, "Accept-Ranges": "bytes", "Content-Type": "application/octet-stream"}
        asked = h.headers.get("Range")
        if asked:
            m = re.fullmatch(r"bytes=(\d+)-(\d*)", asked.strip())
            if m is None or int(m[1]) >= len(data):
                h.reply(416, {"Content-Range": f"bytes */{len(data)}"})
                return
            start = int(m[1])
            end = min(int(m[2]) + 1, len(data)) if m[2] else len(data)
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{len(data)}"
        held = self.stall.get(fname)
        if held is not None and not head:
            h.reply(
                status, headers, data[start:end], length=end - start, cut=held, hold=self._stopping
            )
            return
        cut = self.truncate.get(fname)
        if cut is not None and not head and self._take_truncation():
            if start >= cut:
                h.drop()  # the network is gone: no answer at all
                return
            h.reply(status, headers, data[start:end], length=end - start, cut=cut - start)
            return
        h.reply(status, headers, b"" if head else data[start:end], length=end - start)

    def _take_truncation(self) -> bool:
        with self._lock:
            if self.truncate_times is None:
                return True
            if self.truncate_times <= 0:
                return False
            self.truncate_times -= 1
            return True

    def handle(self, h: _Handler, head: bool) -> None:
        url = urlsplit(h.path)
        parts = [unquote(p) for p in url.path.split("/")[1:]]
        with self._lock:
            self.requests.append((h.command, unquote(url.path), h.headers.get("Range", "")))
        if parts[:2] == ["api", "models"]:
            self._api(h, parts[2:])
        elif len(parts) == 2 and parts[0] == "cdn":
            self._cdn(h, parts[1], parse_qs(url.query), head)
        elif len(parts) >= 5 and parts[2] == "resolve":
            self._resolve(h, parts, head)
        else:
            h.reply(404)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # dropped connections are part of the game


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    fake: FakeHub

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.fake.handle(self, head=False)

    def do_HEAD(self) -> None:
        self.fake.handle(self, head=True)

    def reply(
        self,
        status: int,
        headers: dict[str, str] | None = None,
        body: bytes = b"",
        length: int | None = None,
        cut: int | None = None,
        hold: threading.Event | None = None,
    ) -> None:
        """Send a response; with ``cut``, stop after that many body bytes and drop the line.

        With ``hold`` as well, keep the line open and silent until that event is set.
        """
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body if cut is None else body[:cut])
        if cut is not None:
            self.wfile.flush()
            if hold is not None:
                hold.wait(timeout=30)
            self.drop()

    def reply_json(self, data: Any, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(data).encode()
        self.reply(200, {**(headers or {}), "Content-Type": "application/json"}, body)

    def drop(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
