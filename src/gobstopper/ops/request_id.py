"""Request ids: a trusted proxy's ``X-Request-ID``, or one made here.

An incoming ``X-Request-ID`` is taken only from a peer the app's proxy trust
covers (``trusted_proxies`` / ``GOBSTOPPER_TRUSTED_PROXIES``), and only when it
is short and printable; anyone else gets a fresh id, so a client cannot
inject text into logs or collide with another request's id.
"""

from __future__ import annotations

import itertools
import os
import re
from typing import Any

HEADER = "x-request-id"
#: Longest incoming id kept (a UUID is 36; W3C trace ids are 32).
MAX_LENGTH = 128
_ACCEPTED = re.compile(r"[A-Za-z0-9._:/+=@-]{1,128}")

# PERF: a per-process random prefix and a counter (~0.2 us) rather than uuid4
# (~1.5 us, one urandom call): unique across workers and restarts, not guessable
# as a whole, and request ids are identifiers, not secrets.
_PREFIX = os.urandom(6).hex()
_counter = itertools.count(1)


def new_request_id() -> str:
    """A fresh id: ``<12 random hex>-<counter in hex>``, unique per process."""
    return f"{_PREFIX}-{next(_counter):x}"


def incoming_request_id(request: Any) -> str | None:
    """The request's ``X-Request-ID`` if a trusted proxy sent a well-formed one."""
    trust = request.proxy_trust
    if not trust.enabled:
        return None
    value = request.headers.get(HEADER)
    if not value or not _ACCEPTED.fullmatch(value):
        return None
    return value if trust.trusts(request.peer_ip) else None
