"""A Swift that fails on purpose, for the real SwiftDriver's error paths (tests only): a loopback HTTP
server whose v1 auth answers ``auth_status`` (with a token and its own storage URL when that is 200) and
whose "proxy" answers ``status`` to every other request, after reading the request's body.

    with FailingSwift(status=503) as swift:
        driver = SwiftDriver(SwiftSettings(swift.auth_url, "u:r", key="k"))
"""
from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

AUTH_PATH = "/auth/v1.0"


class FailingSwift:
    def __init__(self, status: int = 503, auth_status: int = 200):
        self.status, self.auth_status = status, auth_status
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self.auth_url = f"http://127.0.0.1:{self._server.server_port}{AUTH_PATH}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> "FailingSwift":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


def _handler(swift: FailingSwift) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {}
            if self.path == AUTH_PATH:
                status = swift.auth_status
                if status == 200:
                    origin = f"http://127.0.0.1:{self.server.server_port}"
                    headers = {"X-Auth-Token": "AUTH_tk-failing", "X-Storage-Url": f"{origin}/v1/AUTH_reseller"}
            else:
                status = swift.status
            body = b"" if self.command == "HEAD" else f"answered {status}".encode()
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = _answer

        def log_message(self, *args) -> None:  # quiet: the test reads the driver's own record
            pass

    return Handler
