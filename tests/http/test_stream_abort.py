"""abort_connection: find a request's TCP socket among the process's and shut it down."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace

import pytest

from gobstopper.http.stream_abort import abort_connection
from tests.servers import missing_on_this_machine


@contextmanager
def connection(
    family: int = socket.AF_INET, host: str = "127.0.0.1"
) -> Iterator[tuple[socket.socket, socket.socket]]:
    """A connected (client, accepted) pair of TCP sockets on loopback."""
    with socket.socket(family, socket.SOCK_STREAM) as listener:
        listener.bind((host, 0))
        listener.listen()
        with socket.create_connection(listener.getsockname()[:2], timeout=5) as client:
            accepted, _ = listener.accept()
            with accepted:
                yield client, accepted


def run(scope: SimpleNamespace) -> bool:
    return asyncio.run(abort_connection(scope, grace=0))


def text(address: tuple) -> str:
    host, port = address[0], address[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def scope_of(accepted: socket.socket, version: str = "1.1") -> SimpleNamespace:
    """The RSGI scope Granian would give the request that came in on ``accepted``."""
    return SimpleNamespace(
        http_version=version,
        client=text(accepted.getpeername()),
        server=text(accepted.getsockname()),
    )


def test_the_connection_is_shut_down_and_its_descriptor_left_open():
    with connection() as (client, accepted):
        assert run(scope_of(accepted)) is True
        assert client.recv(10) == b""  # the peer sees the close
        os.fstat(accepted.fileno())  # not closed: the server owns the descriptor


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


def test_ipv6_connections_are_found():
    if not _has_ipv6_loopback():
        missing_on_this_machine("no IPv6 loopback (::1)")
    with connection(socket.AF_INET6, "::1") as (client, accepted):
        assert run(scope_of(accepted)) is True
        assert client.recv(10) == b""


@pytest.mark.parametrize("version", ["2", "3", None])
def test_http_2_and_unknown_versions_are_left_alone(version):
    with connection() as (client, accepted):
        assert run(scope_of(accepted, version)) is False
        client.setblocking(False)
        with pytest.raises(BlockingIOError):
            client.recv(10)  # still open, nothing sent


@pytest.mark.parametrize(
    ("client_address", "server_address"),
    [
        ("127.0.0.1:1", None),
        (None, "127.0.0.1:1"),
        ("unix", "unix"),
        ("", "127.0.0.1:80"),
        ("127.0.0.1:x", "127.0.0.1:80"),
    ],
)
def test_addresses_that_are_not_host_and_port_find_nothing(client_address, server_address):
    scope = SimpleNamespace(http_version="1.1", client=client_address, server=server_address)
    assert run(scope) is False


def test_another_connection_is_not_touched():
    with connection() as (client, accepted), connection() as (other_client, _):
        scope = scope_of(accepted)
        scope.client = text(other_client.getsockname())  # right server, wrong peer
        assert run(scope) is False
        client.setblocking(False)
        with pytest.raises(BlockingIOError):
            client.recv(10)
