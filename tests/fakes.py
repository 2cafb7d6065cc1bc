"""Test doubles shared by several test modules."""

from __future__ import annotations

import errno
import http.server
import io
import threading
from pathlib import Path


class FullDisk(io.RawIOBase):
    """A seekable binary file that fails with ENOSPC once `capacity` bytes were written."""

    def __init__(self, capacity: int) -> None:
        self.capacity, self.size, self.pos = capacity, 0, 0

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        self.pos = offset if whence == 0 else (self.pos + offset if whence == 1 else self.size + offset)
        return self.pos

    def tell(self) -> int:
        return self.pos

    def write(self, data) -> int:
        if self.pos + len(data) > self.capacity:
            raise OSError(errno.ENOSPC, "No space left on device")
        self.pos += len(data)
        self.size = max(self.size, self.pos)
        return len(data)


class LocalServer:
    """Serves ``routes`` (URL path -> file, or (bytes, declared length)) on 127.0.0.1."""

    def __init__(self) -> None:
        self.routes: dict[str, object] = {}
        self.requests: list[str] = []
        routes, requests = self.routes, self.requests

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                requests.append(self.path)
                item = routes.get(self.path)
                if item is None:
                    self.send_error(404)
                    return
                if isinstance(item, Path):
                    body, length = item.read_bytes(), None
                else:
                    body, length = item
                self.send_response(200)
                self.send_header("Content-Length", str(length if length is not None else len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                if length is not None and length != len(body):
                    self.close_connection = True

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
