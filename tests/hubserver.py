"""A tiny Hugging Face Hub-compatible file server on 127.0.0.1 for download tests.

It answers ``HEAD``/``GET {endpoint}/{repo_id}/resolve/{revision}/{filename}`` with the headers
``huggingface_hub`` reads (``X-Repo-Commit``, ``ETag``, ``Content-Length``), so the real client code
runs against it. ``mode`` switches on faults: ``corrupt`` serves other bytes, ``truncate`` closes the
connection half way through the body.
"""

from __future__ import annotations

import hashlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote


class HubServer:
    def __init__(self, repo_id: str, revision: str, files: dict[str, bytes]) -> None:
        self.repo_id, self.revision, self.files = repo_id, revision, dict(files)
        self.mode = "ok"
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def do_HEAD(self) -> None:
                self._answer(body=False)

            def do_GET(self) -> None:
                self._answer(body=True)

            def _answer(self, body: bool) -> None:
                server.requests.append(f"{self.command} {self.path}")
                prefix = f"/{server.repo_id}/resolve/"
                path = unquote(self.path.split("?")[0])
                if not path.startswith(prefix):
                    self.send_error(404, "Repository not found")
                    return
                revision, _, name = path[len(prefix) :].partition("/")
                if revision != server.revision or name not in server.files:
                    self.send_response(404)
                    self.send_header("X-Error-Code", "EntryNotFound")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                data = server.files[name]
                sent = data
                if server.mode == "corrupt":
                    sent = bytes(b ^ 0xFF for b in data)
                self.send_response(200)
                self.send_header("X-Repo-Commit", server.revision)
                self.send_header("ETag", f'"{hashlib.sha256(sent).hexdigest()}"')
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
