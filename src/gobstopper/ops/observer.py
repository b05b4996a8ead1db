"""The one app-level middleware behind request ids, metrics and the access log.

Installed once per app by the first ``enable_*`` call, as the outermost
middleware. Per request it fixes ``request.id``, times the chain, echoes
``X-Request-ID`` and hands ``(request, response, seconds)`` to each recorder
(metrics, access log). A request whose chain raises is recorded by
``finalize_response``, which the dispatcher calls on the error page it made,
so the recorded status is the one the client got.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from time import perf_counter
from typing import TYPE_CHECKING, Any

from gobstopper.ops.request_id import HEADER, assign_request_id

if TYPE_CHECKING:
    from gobstopper.http.request import Request
    from gobstopper.http.response import BaseResponse

#: ``recorder(request, response, seconds)``: called once per finished request.
Recorder = Callable[["Request", "BaseResponse", float], None]
#: Outermost: times everything the app's own middleware do.
PRIORITY = 1_000_000
_STARTED = "_ops_started"


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
    """Middleware: request id, timing, and the recorders of an app."""

    def __init__(self) -> None:
        self.recorders: list[Recorder] = []
        self.record: Recorder = _nothing

    def add(self, recorder: Recorder) -> None:
        """Call ``recorder`` for every request from now on."""
        self.recorders.append(recorder)
        self.record = fan_out(self.recorders)

    async def __call__(self, request: Request, call_next: Callable[..., Any]) -> BaseResponse:
        # PERF: no try/finally around the happy path beyond the one except clause;
        # perf_counter twice, one header store, one recorder call (see benchmarks).
        request_id = assign_request_id(request)
        start = perf_counter()
        try:
            response: BaseResponse = await call_next(request)
        except BaseException:
            # The dispatcher turns this into an error page and calls finalize_response.
            request.__dict__[_STARTED] = start
            raise
        response.headers[HEADER] = request_id
        self.record(request, response, perf_counter() - start)
        return response

    def finalize_response(self, request: Request, response: BaseResponse) -> None:
        """Echo the id on a response made outside the chain; record a failed request."""
        response.headers[HEADER] = assign_request_id(request)
        start = request.__dict__.pop(_STARTED, None)
        if start is not None:
            self.record(request, response, perf_counter() - start)


def observer_of(app: Any) -> RequestObserver:
    """The app's ``RequestObserver``, installed as its outermost middleware on first use."""
    observer = getattr(app, "ops_observer", None)
    if observer is None:
        observer = RequestObserver()
        app.add_middleware(observer, priority=PRIORITY)
        app.ops_observer = observer
    return observer
