"""Shared helpers for the issue-15 hardening tests against ``hardening_app``."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.servers import RunningServer, granian_server

SECRET = "e2e-hardening-secret-0123456789abcdef"
ORIGIN = "https://app.example"


@contextmanager
def hardening_server(root: Path, **env: str) -> Iterator[RunningServer]:
    """``hardening_app`` under Granian with file sessions in ``root`` and ``env``."""
    full_env = {"SECRET_KEY": SECRET, "SESSION_DIR": str(root / "sessions"), **env}
    with granian_server("hardening_app:app", root, env=full_env) as server:
        yield server


def fresh_token(client: httpx.Client) -> str:
    """A CSRF token for the client's session (its cookie is set on first use)."""
    response = client.get("/token")
    assert response.status_code == 200
    return response.text


def raw_request(port: int, head: bytes, timeout: float = 5.0) -> bytes:
    """Send ``head`` (a request with ``Connection: close``) on a new connection.

    Returns everything the server sent until it closed the connection.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(head)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
        return received


def status_of(raw: bytes) -> int:
    """The status code of a raw HTTP/1.x answer."""
    return int(raw.split(b" ", 2)[1])
