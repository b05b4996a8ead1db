"""Answers to requests no route matched: 404, 405, 400, 414 and automatic OPTIONS.

A miss still passes through the app's middleware and hooks (the "unrouted
chain"), whose innermost step answers OPTIONS with 204 and ``Allow`` or
raises the miss's error, so CORS preflights, static files and security
headers work for paths that have no route. The app's slash policy picks the
answer: ``strict`` (the miss as it is), ``redirect`` (308 to the path
with(out) its trailing slash when something is routed there) or
``tolerant`` (serve that path directly).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from gobstopper.core.error_handling import default_response
from gobstopper.core.pipeline import Finisher, RouteCall, wrap_hooks, wrap_middleware
from gobstopper.http.coercion import to_response
from gobstopper.http.errors import MethodNotAllowed, NotFound
from gobstopper.http.request import Request
from gobstopper.http.response import BaseResponse, Response
from gobstopper.http.routing import SLASH_POLICIES, Match, Miss, Router

if TYPE_CHECKING:
    from gobstopper.core.app import Gobstopper

#: ``answer(request, miss)``: how an app answers a miss.
MissAnswer = Callable[[Request, Miss], Awaitable[BaseResponse]]
_SAFE_PATH_CHARS = "/:@!$&'()*+,;=-._~"


def _other_slash_form(path: str) -> str | None:
    if path == "/" or path.endswith("//"):
        return None
    return path[:-1] if path.endswith("/") else path + "/"


def safe_location(path: str, query: str) -> str:
    """A same-site Location for ``path``, never ``//host``."""
    location = "/" + quote(path, safe=_SAFE_PATH_CHARS).lstrip("/")
    return f"{location}?{query}" if query else location


class MissAnswers:
    """An app's answers to misses: its unrouted chain and its slash policy."""

    def __init__(
        self,
        app: Gobstopper,
        router: Router,
        chain: Sequence[Callable[..., Any]],
        finish: Finisher | None,
    ) -> None:
        if app.slash_policy not in SLASH_POLICIES:
            raise ValueError(
                f"slash_policy must be one of {SLASH_POLICIES}, got {app.slash_policy!r}"
            )
        self.app = app
        self.router = router
        self.match = router.match
        self.errors = app.error_handlers
        self.finish = finish
        self.unrouted: RouteCall = wrap_middleware(
            wrap_hooks(self._answer_unrouted, app._before_request, app._after_request), chain
        )
        #: Nothing wraps the unrouted step: a miss can be answered without raising it.
        self.bare = not (chain or app._before_request or app._after_request)
        self._not_found = NotFound()

    def by_policy(self) -> MissAnswer:
        """The answer the app's slash policy asks for."""
        policies: dict[str, MissAnswer] = {
            "strict": self.strict,
            "redirect": self.redirect,
            "tolerant": self.tolerant,
        }
        return policies[self.app.slash_policy]

    async def strict(self, request: Request, miss: Miss) -> BaseResponse:
        """Run the unrouted chain, whose innermost step raises the miss's error.

        An over-long path (414) is refused before any middleware sees it.
        """
        if (
            self.bare
            and miss.status == 404
            and request.method != "OPTIONS"
            and 404 not in self.errors.by_status
        ):
            # PERF: no middleware, hook or handler can see the exception: the default page
            # from one shared NotFound, no exception built per request (~0.5 us).
            return default_response(request, self._not_found, self.app.debug, None)
        error = miss.error()
        if miss.status == 414:
            raise error
        request.routing_exception = error
        if self.bare and request.method != "OPTIONS":
            # PERF: what raising it through the bare step would come to, minus the raise
            # and the catch (~1.5 us of a 404's ~10 us in the in-process benchmark), and
            # without a coroutine when no handler is registered for its status.
            if error.status_code not in self.errors.by_status:
                return default_response(request, error, self.app.debug, None)
            return await self.errors.respond(request, error, self.app.debug)
        return to_response(await self.unrouted(request))

    async def redirect(self, request: Request, miss: Miss) -> BaseResponse:
        """308 to the path with(out) its trailing slash when something is routed there."""
        other = self._other_form(request, miss)
        if other is None:
            return await self.strict(request, miss)
        location = safe_location(other[0], request.query_string)
        redirect = Response(b"", status=308, headers={"location": location})
        if self.finish is not None:
            self.finish(request, redirect)
        return redirect

    async def tolerant(self, request: Request, miss: Miss) -> BaseResponse:
        """Serve the path with(out) its trailing slash when something is routed there."""
        other = self._other_form(request, miss)
        if other is None:
            return await self.strict(request, miss)
        route, params, other_miss = other[1]
        if other_miss is not None:
            raise other_miss.error()  # routed there for other methods only: 405
        request.view_args = params
        request.endpoint = route.name
        request.url_rule = route.rule
        return to_response(await route.call(request))

    def _other_form(self, request: Request, miss: Miss) -> tuple[str, Match] | None:
        """A 404's path with(out) its trailing slash, and its match, if anything is routed there."""
        if miss.status != 404:
            return None  # a 405, 400 or 414 is about this very path
        other = _other_slash_form(request.path)
        if other is None:
            return None
        found = self.match(request.method, other)
        other_miss = found[2]
        return (other, found) if other_miss is None or other_miss.status == 405 else None

    async def _answer_unrouted(self, request: Request) -> BaseResponse:
        """Innermost step for unrouted requests: OPTIONS gets 204, else the miss is raised."""
        if request.path == "*" and request.method == "OPTIONS":
            # "OPTIONS *" asks about the server as a whole: every method routed anywhere.
            methods = {"OPTIONS", *self.router.methods()}
            return Response(b"", status=204, headers={"allow": ", ".join(sorted(methods))})
        # NOTE: the miss recorded for the path that arrived; a middleware that handed on
        # another request object has nothing matched for it.
        miss = request.routing_exception or NotFound()
        if isinstance(miss, MethodNotAllowed) and request.method == "OPTIONS":
            allow = ", ".join(sorted({*miss.allowed, "OPTIONS"}))
            return Response(b"", status=204, headers={"allow": allow})
        raise miss
