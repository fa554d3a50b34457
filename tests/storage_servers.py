"""Real servers for the storage tests, each in a background thread of the test process.

* `moto_s3()`: moto's S3 server, standing in for Backblaze B2 (same protocol, real HTTP).
* `serve_asgi()`: uvicorn serving a Starlette app on a free 127.0.0.1 port, so the local store's
  signed URLs are exercised over real sockets exactly as a browser would use them.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from moto.server import ThreadedMotoServer

STARTUP_TIMEOUT = 10.0


def listening_socket() -> socket.socket:
    """A socket bound to a free port now, so the URL is known before the server starts."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def socket_url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://{host}:{port}"


@contextmanager
def serve_asgi(app: Any, sock: socket.socket) -> Iterator[str]:
    """Run `app` under uvicorn on `sock` until the block ends; yields the base URL."""
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield socket_url(sock)
    finally:
        server.should_exit = True
        thread.join(STARTUP_TIMEOUT)
        sock.close()


@contextmanager
def moto_s3() -> Iterator[str]:
    """moto's S3 server on a free port; yields its endpoint URL."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
