"""Idempotency keys: run an unsafe handler once per key and replay its response.

A client retrying a POST (after a timeout or a dropped connection) sends the same
key in the ``Idempotency-Key`` header (or as ``?idempotency_key=``).
``@use_idempotency()`` runs the handler for the first request and answers repeats
within ``ttl_seconds`` with the stored response, marked ``Idempotent-Replayed: true``.
Requests without a key run normally. The rules follow the IETF draft
(draft-ietf-httpapi-idempotency-key-header) and Stripe's practice:

- Scope: a key belongs to one caller and one handler. The caller is ``caller(request)``
  (default ``caller_identity``: the ``Authorization`` credential and the session id
  when present, else the client ip), so the same key from another user runs the
  handler for that user instead of replaying a stranger's response.
- Fingerprint: the first request's method, path and body are fingerprinted; a
  repeat of the key with a different request is a 422, never a replay.
- Concurrency: a repeat whose key is being handled waits for the first one and gets
  its response. If the first raises, nothing is stored and the waiting request runs
  the handler itself: a failure is not a result.
- What is stored: the status, headers and body of the response built from the return
  value, before any hook runs; never its cookies (a replay sends no ``Set-Cookie``).
  Exceptions (``abort(409)`` included), streamed and file responses are not stored.
- Where: ``store`` is an ``IdempotencyBackend``; the default ``IdempotencyStore`` lives
  in this process (bounded in entries and bytes). Several workers or machines share
  ``RedisIdempotencyStore`` (``gobstopper.utils.redis_idempotency``).

``remember_idempotency``/``get_idempotent`` use the default store directly, without
scope or fingerprint.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar, cast

import msgspec

from gobstopper.awaitables import is_async_callable
from gobstopper.http.coercion import to_response
from gobstopper.http.errors import BadRequest, UnprocessableEntity
from gobstopper.http.response import FileResponse, Response, StreamResponse
from gobstopper.service_checks import declare_components
from gobstopper.utils.idempotency_store import (
    MAX_BYTES,
    MAX_ENTRIES,
    IdempotencyBackend,
    IdempotencyStore,
    checked_ttl,
)

__all__ = [
    "MAX_BYTES",
    "MAX_ENTRIES",
    "MAX_KEY_LENGTH",
    "IdempotencyBackend",
    "IdempotencyStore",
    "caller_identity",
    "get_idempotent",
    "idempotency_key",
    "remember_idempotency",
    "use_idempotency",
]

F = TypeVar("F", bound=Callable[..., Any])

#: Longest key accepted (as Stripe); longer is a 400, so keys cannot eat memory.
MAX_KEY_LENGTH = 255
#: How long a claim lasts before another caller may take it (a holder that died).
LEASE_SECONDS = 60.0
HEADER = "idempotency-key"
QUERY_ARG = "idempotency_key"
REPLAYED_HEADER = "Idempotent-Replayed"
_NOT_REPLAYED = frozenset({"set-cookie", REPLAYED_HEADER.lower()})

_DEFAULT_STORE = IdempotencyStore()


class _Record(msgspec.Struct, array_like=True):
    """A stored response, with the fingerprint of the request that produced it."""

    fingerprint: bytes
    status: int
    headers: list[tuple[str, str]]
    body: bytes


_encode_record = msgspec.msgpack.Encoder().encode
_decode_record = msgspec.msgpack.Decoder(_Record).decode


def idempotency_key(request: Any) -> str | None:
    """The request's key: the ``Idempotency-Key`` header, else the first
    ``idempotency_key`` query value; None if absent or empty, 400 if too long."""
    key = request.headers.get(HEADER)
    if not key:
        values = request.args.get(QUERY_ARG)
        key = values[0] if values else None
    if not key:
        return None
    if len(key) > MAX_KEY_LENGTH:
        raise BadRequest(f"Idempotency key too long (at most {MAX_KEY_LENGTH} characters)")
    return cast(str, key)


def caller_identity(request: Any) -> str:
    """Who is calling: the Authorization credential (hashed) and session id when
    present, else the client ip (``request.client_ip``, proxy trust applied)."""
    parts = []
    credential = request.headers.get("authorization")
    if credential:
        parts.append("auth:" + hashlib.sha256(credential.encode()).hexdigest())
    session_id = request.session_id
    if session_id:
        parts.append("session:" + session_id)
    return "|".join(parts) if parts else "ip:" + request.client_ip


def use_idempotency(
    ttl_seconds: float = 60.0,
    *,
    store: IdempotencyBackend | None = None,
    caller: Callable[[Any], str] = caller_identity,
) -> Callable[[F], F]:
    """Run the decorated handler once per caller and idempotency key; replay its response.

    Put it under the route decorator. The handler's first positional argument must
    be the request; its signature stays visible, so path and body parameters are
    still injected. A sync handler runs in a thread. ``store`` defaults to the
    module's in-memory store; ``caller`` maps a request to the identity its keys
    belong to (see ``caller_identity``).

    >>> @app.post("/payments")
    ... @use_idempotency(ttl_seconds=3600)
    ... async def pay(request, payment: Payment): ...
    """
    ttl = checked_ttl(ttl_seconds)
    target = _DEFAULT_STORE if store is None else store
    if not isinstance(target, IdempotencyBackend):
        raise TypeError(f"store must be an IdempotencyBackend, got {type(store).__name__}")

    def decorate(handler: F) -> F:
        call = handler if is_async_callable(handler) else _in_thread(handler)
        # Stable across processes, so a shared store scopes keys to this handler.
        namespace = f"{handler.__module__}.{handler.__qualname__}"

        @functools.wraps(handler)
        async def idempotent(*args: Any, **kwargs: Any) -> Any:
            request = args[0]
            key = idempotency_key(request)
            if key is None:
                return await call(*args, **kwargs)
            slot = _slot(namespace, caller(request), key)
            fingerprint = await _fingerprint(request)
            run = functools.partial(call, *args, **kwargs)
            return await _once(target, slot, fingerprint, ttl, run)

        declare_components(idempotent, target)
        return cast(F, idempotent)

    return decorate


def _in_thread(handler: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
    async def run(*args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(handler, *args, **kwargs)

    return run


def _slot(namespace: str, caller: str, key: str) -> str:
    """One fixed-length slot name per handler, caller and key."""
    text = "\x1f".join((namespace, caller, key))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


async def _fingerprint(request: Any) -> bytes:
    """Digest of what makes two requests the same: method, path and body (not the
    query, which may carry the key itself)."""
    digest = hashlib.sha256()
    for part in (request.method, request.path):
        digest.update(part.encode("utf-8", "surrogatepass") + b"\x00")
    digest.update(await request.get_data())
    return digest.digest()


async def _once(
    store: IdempotencyBackend,
    slot: str,
    fingerprint: bytes,
    ttl: float,
    run: Callable[[], Awaitable[Any]],
) -> Any:
    """The response stored for ``slot``, else ``run()``'s (stored for ``ttl``)."""
    while True:
        record = await store.result(slot)
        if record is not None:
            return _replay(_decode_record(record), fingerprint)
        if await store.claim(slot, LEASE_SECONDS):
            break
        await store.wait(slot, LEASE_SECONDS)  # then look again: stored, or it failed
    try:
        response = to_response(await run())
    except BaseException:
        await store.release(slot)
        raise
    record = _record_of(response, fingerprint)
    if record is None:
        await store.release(slot)
    else:
        await store.complete(slot, record, ttl)
    return response


def _record_of(response: Any, fingerprint: bytes) -> bytes | None:
    """The stored form of ``response``; None for streams and files (they run once)."""
    if not isinstance(response, Response) or isinstance(response, (StreamResponse, FileResponse)):
        return None
    body = response.body
    headers = [(k, v) for k, v in response.headers.items() if k.lower() not in _NOT_REPLAYED]
    data = body.encode() if isinstance(body, str) else bytes(body)
    return _encode_record(_Record(fingerprint, response.status, headers, data))


def _replay(record: _Record, fingerprint: bytes) -> Response:
    """A fresh response from ``record``; 422 if it answered a different request."""
    if record.fingerprint != fingerprint:
        raise UnprocessableEntity(
            "Idempotency-Key was already used for a different request (method, path or body differ)"
        )
    headers = dict(record.headers)
    headers[REPLAYED_HEADER] = "true"
    return Response(record.body, record.status, headers)


def remember_idempotency(key: Hashable, value: Any, ttl_seconds: float = 60.0) -> None:
    """Store ``value`` under ``key`` in the default store for ``ttl_seconds``."""
    _DEFAULT_STORE.set(key, value, ttl_seconds)


def get_idempotent(key: Hashable) -> Any | None:
    """The value remembered under ``key``; None if missing or expired."""
    return _DEFAULT_STORE.get(key)
