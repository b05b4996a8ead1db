"""The measured endpoints, and the check each app's answer must pass before it is measured.

A check makes sure every framework does the same work: the right body, content type and
headers, the three middleware headers on /mw and on no other route, autoescaped template
output. An endpoint whose check fails is reported as failed, not measured. An endpoint
with ``only`` set is served by those frameworks alone (``POST /enqueue``: Gobstopper's
task queue; ``POST /accept``, its control, also by the raw app); the others are neither
checked nor measured on it, and the report shows "—".
"""

from __future__ import annotations

import http.client
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from benchmarks.apps.common import ECHO_PAYLOAD, HELLO, ROWS, TEMPLATE_TITLE

MW_HEADERS = ("x-mw1", "x-mw2", "x-mw3")


@dataclass(frozen=True)
class Reply:
    """One HTTP answer: status, lower-cased headers and body."""

    status: int
    headers: dict[str, str]
    body: bytes


Check = Callable[[Reply], "str | None"]


@dataclass(frozen=True)
class Endpoint:
    """A measured request and the check its answer must pass."""

    name: str
    method: str
    path: str
    check: Check
    body: bytes | None = None
    only: tuple[str, ...] = ()
    """The frameworks that offer it; empty means every one."""

    def offered_by(self, framework: str) -> bool:
        """Tell whether ``framework``'s app serves this endpoint."""
        return not self.only or framework in self.only


def fetch(port: int, endpoint: Endpoint, timeout: float = 5.0) -> Reply:
    """Send ``endpoint``'s request to 127.0.0.1:``port`` once and return the answer."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        headers = {"content-type": "application/json"} if endpoint.body is not None else {}
        conn.request(endpoint.method, endpoint.path, body=endpoint.body, headers=headers)
        resp = conn.getresponse()
        body = resp.read()
        return Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, body)
    finally:
        conn.close()


def _common_problem(reply: Reply, content_type: str, mw_headers: bool) -> str | None:
    """Check status, content type and the presence (or absence) of the middleware headers."""
    if reply.status != 200:
        return f"status {reply.status}: {reply.body[:200]!r}"
    got_type = reply.headers.get("content-type", "")
    if not got_type.startswith(content_type):
        return f"content-type {got_type!r}, expected {content_type}"
    present = [name for name in MW_HEADERS if reply.headers.get(name) == "1"]
    if mw_headers and len(present) != len(MW_HEADERS):
        return f"middleware headers {present}, expected {list(MW_HEADERS)}"
    if not mw_headers and present:
        return f"middleware headers {present} on a route without middleware"
    return None


def _text(mw_headers: bool) -> Check:
    def check(reply: Reply) -> str | None:
        problem = _common_problem(reply, "text/plain", mw_headers)
        if problem is None and reply.body != HELLO.encode():
            problem = f"body {reply.body[:200]!r}"
        return problem

    return check


def _json(expected: object) -> Check:
    def check(reply: Reply) -> str | None:
        problem = _common_problem(reply, "application/json", False)
        if problem is None and json.loads(reply.body) != expected:
            problem = f"body {reply.body[:200]!r}"
        return problem

    return check


def _queued(reply: Reply) -> str | None:
    """202 Accepted with the queued task's id: ``{"id": "<uuid4>"}``."""
    if reply.status != 202:
        return f"status {reply.status}, expected 202: {reply.body[:200]!r}"
    got_type = reply.headers.get("content-type", "")
    if not got_type.startswith("application/json"):
        return f"content-type {got_type!r}, expected application/json"
    task_id = json.loads(reply.body).get("id")
    if not isinstance(task_id, str) or uuid.UUID(task_id).version != 4:
        return f"no task id in {reply.body[:200]!r}"
    return None


def _not_found(reply: Reply) -> str | None:
    """A miss: any framework's own 404, without the middleware headers."""
    if reply.status != 404:
        return f"status {reply.status}, expected 404: {reply.body[:200]!r}"
    present = [name for name in MW_HEADERS if name in reply.headers]
    return f"middleware headers {present} on a miss" if present else None


def _template(reply: Reply) -> str | None:
    problem = _common_problem(reply, "text/html", False)
    if problem is not None:
        return problem
    html = reply.body.decode()
    if html.count("<tr><td>") != len(ROWS) or f"<title>{TEMPLATE_TITLE}</title>" not in html:
        return f"not the 10-row table: {html[:200]!r}"
    if "&amp; sons" not in html:
        return "row names not autoescaped"
    return None


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("plaintext", "GET", "/plaintext", _text(mw_headers=False)),
    Endpoint("json", "GET", "/json", _json({"message": HELLO})),
    Endpoint("users", "GET", "/users/123?q=x", _json({"id": 123, "q": "x"})),
    Endpoint(
        "echo",
        "POST",
        "/echo",
        _json(ECHO_PAYLOAD),
        body=json.dumps(ECHO_PAYLOAD).encode(),
    ),
    Endpoint("mw", "GET", "/mw", _text(mw_headers=True)),
    Endpoint("template", "GET", "/template", _template),
    # A path no route matches, next to the 100 extra routes every app registers under
    # /api/v1/ (see apps/common.py): the router must walk and give up, then answer 404.
    Endpoint("miss", "GET", "/api/v1/resource7/missing", _not_found),
    # The same request answered the same way without queuing anything: /enqueue's cost
    # less this one is what queuing costs. The raw app answers it too, as the floor.
    # Measured before /enqueue: the task workers /enqueue starts keep running after it.
    Endpoint(
        "accept",
        "POST",
        "/accept",
        _queued,
        body=b'{"to": "ada@example.com"}',
        only=("raw", "gobstopper", "gobstopper-asgi"),
    ),
    # A handler that queues a no-op background task (stored in DuckDB, run by the app's
    # own workers while the load goes on) and answers 202 with the task id.
    Endpoint(
        "enqueue",
        "POST",
        "/enqueue",
        _queued,
        body=b'{"to": "ada@example.com"}',
        only=("gobstopper", "gobstopper-asgi"),
    ),
)


def select(names: list[str] | None) -> list[Endpoint]:
    """Return the named endpoints (all when ``names`` is None); ``ValueError`` if unknown."""
    if names is None:
        return list(ENDPOINTS)
    by_name = {ep.name: ep for ep in ENDPOINTS}
    unknown = [name for name in names if name not in by_name]
    if unknown:
        raise ValueError(f"unknown endpoint(s) {unknown}; known: {sorted(by_name)}")
    return [by_name[name] for name in names]


def check(port: int, endpoint: Endpoint) -> str | None:
    """Request ``endpoint`` once; return what is wrong with the answer, or None."""
    try:
        reply = fetch(port, endpoint)
    except OSError as exc:
        return f"request failed: {exc}"
    try:
        return endpoint.check(reply)
    except ValueError as exc:  # undecodable JSON or text
        return f"unreadable body ({exc}): {reply.body[:200]!r}"
