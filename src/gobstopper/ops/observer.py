"""The per-request hook behind request ids, metrics and the access log.

Installed once per app by the first ``enable_*`` call as ``app.ops_observer``;
the HTTP dispatcher calls it directly, not as a middleware: ``begin`` before
routing fixes ``request.id`` and starts the clock, ``stamp`` echoes
``X-Request-ID`` on the response about to be sent (error pages and the
framework's own 400s included), and ``end`` hands ``(request, response,
seconds)`` to each recorder (metrics, access log) once the response, a
streamed body included, has been sent. PERF: no middleware frame, and routes
keep their direct handler call (see benchmarks/PERF.md).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from time import perf_counter
from typing import TYPE_CHECKING, Any

from gobstopper.ops import request_id
from gobstopper.ops.request_id import HEADER, PREFIX, incoming_request_id, new_request_id

if TYPE_CHECKING:
    from gobstopper.http.request import Request
    from gobstopper.http.response import BaseResponse

#: ``recorder(request, response, seconds)``: called once per finished request.
Recorder = Callable[["Request", "BaseResponse", float], None]
#: What ``begin`` returns and ``stamp``/``end`` take back: ``(request id, start time)``.
Began = tuple[str, float]

# The dispatcher's logger: a failing recorder is reported where it always was.
logger = logging.getLogger("gobstopper.dispatch")


def _nothing(request: Request, response: BaseResponse, seconds: float) -> None:
    return None


def fan_out(recorders: Sequence[Recorder]) -> Recorder:
    """One recorder calling each of ``recorders`` (itself when only one)."""
    if not recorders:
        return _nothing
    if len(recorders) == 1:
        return recorders[0]
    every = tuple(recorders)

    def record_all(request: Request, response: BaseResponse, seconds: float) -> None:
        for recorder in every:
            recorder(request, response, seconds)

    return record_all


class RequestObserver:
    """Request id, timing, and the recorders of an app (called by its dispatcher)."""

    __slots__ = ("record", "recorders")

    def __init__(self) -> None:
        self.recorders: list[Recorder] = []
        #: ``record(request, response, seconds)``: every recorder, in the order added.
        self.record: Recorder = _nothing

    def add(self, recorder: Recorder) -> None:
        """Call ``recorder`` for every request from now on."""
        self.recorders.append(recorder)
        self.record = fan_out(self.recorders)

    def begin(self, request: Request) -> Began:
        """Fix ``request.id`` (before any handler runs); start the clock.

        Returns what ``stamp`` and ``end`` take back: the id and the start time.
        """
        trust = request.proxy_trust
        # PERF: what ``trust.enabled`` says, without its property call (~500 instructions).
        if trust.trust_all or trust.networks:
            rid = incoming_request_id(request) or new_request_id()
        else:
            # PERF: ``new_request_id`` inlined: one call less (~450 instructions).
            rid = f"{PREFIX}{next(request_id.counter)}"
        request.id = rid
        return rid, perf_counter()

    def stamp(self, response: BaseResponse, began: Began) -> None:
        """Echo the request id on the response about to be sent.

        PERF: an added line, not ``headers[...]``: most responses then send
        without building and checking a header dict (~6,000 instructions).
        """
        response.add_header(HEADER, began[0])

    def end(self, request: Request, response: BaseResponse, began: Began) -> None:
        """Hand a sent response to the recorders; a failing recorder is logged."""
        try:
            self.record(request, response, perf_counter() - began[1])
        except Exception:
            logger.exception("a request recorder failed for %r", response)


def observer_of(app: Any) -> RequestObserver:
    """The app's ``RequestObserver``, created on first use (its dispatcher calls it)."""
    observer: RequestObserver | None = app.ops_observer
    if observer is None:
        observer = app.ops_observer = RequestObserver()
        app._changed()  # the dispatcher binds its observer when it is compiled
    return observer
