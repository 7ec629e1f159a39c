"""A tiny Hugging Face Hub-compatible file server on 127.0.0.1 for download tests.

It answers ``HEAD``/``GET {endpoint}/{repo_id}/resolve/{revision}/{filename}`` with the headers
``huggingface_hub`` reads (``X-Repo-Commit``, ``ETag``, ``Content-Length``), so the real client code
runs against it. ``mode`` switches on faults: ``corrupt`` serves other bytes, ``truncate`` closes the
connection half way through the body.

For uploads it accepts what ``create_repo`` and ``upload_folder`` send for small files: repository
creation, the pre-upload check (every file "regular", i.e. inline) and the NDJSON commit, after which
the committed files are served at the new commit's 40-hex revision.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote


class HubServer:
    def __init__(self, repo_id: str, revision: str, files: dict[str, bytes]) -> None:
        self.repo_id, self.revision, self.files = repo_id, revision, dict(files)
        self.mode = "ok"
        self.delay = 15.0  # seconds each answer waits in "slow" mode
        self.requests: list[str] = []
        self.commits: dict[str, dict[str, bytes]] = {}  # revision -> files, for pushed repositories
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def do_HEAD(self) -> None:
                self._answer(body=False)

            def do_GET(self) -> None:
                self._answer(body=True)

            def do_POST(self) -> None:
                server.requests.append(f"POST {self.path}")
                body = self._read_body()
                path = self.path.split("?")[0]
                if path == "/api/repos/create":
                    name = json.loads(body)["name"]
                    organization = json.loads(body).get("organization")
                    repo = f"{organization}/{name}" if organization else name
                    return self._json({"url": f"{server.endpoint}/{repo}", "name": repo})
                if path == "/api/validate-yaml":  # model cards' front matter
                    return self._json({"errors": [], "warnings": []})
                if "/preupload/" in path:
                    files = json.loads(body)["files"]
                    return self._json(
                        {"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False} for f in files]}
                    )
                if "/commit/" in path:
                    files = {}
                    for line in body.decode().splitlines():
                        item = json.loads(line)
                        if item["key"] == "file":
                            files[item["value"]["path"]] = base64.b64decode(item["value"]["content"])
                    revision = hashlib.sha1(json.dumps(sorted(files)).encode() + b"".join(files.values())).hexdigest()
                    server.commits[revision] = files
                    repo = path.split("/api/models/")[1].split("/commit/")[0]
                    return self._json(
                        {"commitUrl": f"{server.endpoint}/{repo}/commit/{revision}", "commitOid": revision}
                    )
                self.send_error(404)

            def _read_body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() != "chunked":
                    return self.rfile.read(int(self.headers.get("Content-Length") or 0))
                chunks = []
                while (size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)) > 0:
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()  # the CRLF after each chunk
                self.rfile.readline()  # the CRLF after the last, empty chunk
                return b"".join(chunks)

            def _json(self, data: dict) -> None:
                payload = json.dumps(data).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _answer(self, body: bool) -> None:
                server.requests.append(f"{self.command} {self.path}")
                prefix = f"/{server.repo_id}/resolve/"
                path = unquote(self.path.split("?")[0])
                if not path.startswith(prefix):
                    self.send_error(404, "Repository not found")
                    return
                revision, _, name = path[len(prefix) :].partition("/")
                files = server.commits.get(revision, server.files if revision == server.revision else {})
                if name not in files:
                    self.send_response(404)
                    self.send_header("X-Error-Code", "EntryNotFound")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if server.mode.startswith("status"):  # e.g. "status503": the server fails
                    self.send_response(int(server.mode[6:]))
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if server.mode == "slow":
                    time.sleep(server.delay)
                data = files[name]
                sent = data
                if server.mode in ("corrupt", "corrupt_same_etag"):
                    sent = bytes(b ^ 0xFF for b in data)
                # "corrupt_same_etag": wrong bytes under the original ETag (a misbehaving mirror or proxy)
                tagged = data if server.mode == "corrupt_same_etag" else sent
                self.send_response(200)
                self.send_header("X-Repo-Commit", revision)
                self.send_header("ETag", f'"{hashlib.sha256(tagged).hexdigest()}"')
                self.send_header("Content-Length", str(len(sent)))
                self.send_header("Content-Type", "application/octet-stream")
                self.end_headers()
                if not body:
                    return
                if server.mode == "truncate":
                    self.wfile.write(sent[: len(sent) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(sent)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> HubServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._httpd.shutdown()
            self._httpd.server_close()
