"""Compile one route into one callable: middleware → hooks → handler → coercion.

Everything is decided here, once, when routes are (re)compiled: whether the
handler is sync (run in a thread) or async, whether hooks exist (a route
without hooks runs no loops), the middleware chain (each ``call_next`` is
a plain await in the same task — no task groups, no extra tasks), the body
limits of the route (its LimitsMiddleware, folded and set before the first
middleware) and the finisher that gives error pages the chain's headers.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, cast

from gobstopper.awaitables import is_async_callable, resolved
from gobstopper.http.coercion import to_response
from gobstopper.http.injection import BodyParameter, body_parameter, load_body
from gobstopper.http.request import Request
from gobstopper.http.response import BaseResponse
from gobstopper.http.response_models import declares_response
from gobstopper.middleware.limits import LimitsMiddleware, RouteLimits, route_limits

Endpoint = Callable[[Request], Awaitable[BaseResponse]]
#: ``finish(request, response)``: headers a chain owes every response it answers.
Finisher = Callable[[Request, BaseResponse], None]
#: ``call(request)``: a matched route's one dispatch callable (see ``route_call``).
RouteCall = Callable[[Request], Awaitable[Any]]


def _unaccepted(handler: Callable[..., Any], path_params: Sequence[str]) -> tuple[str, ...]:
    """Path parameters ``handler`` has no parameter for (none if it takes ``**kwargs``)."""
    try:
        parameters = inspect.signature(handler).parameters.values()
    except (TypeError, ValueError):
        return ()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return ()
    accepted = {p.name for p in parameters}
    return tuple(name for name in path_params if name not in accepted)


def _without_params(handler: Callable[..., Any], dropped: tuple[str, ...]) -> Callable[..., Any]:
    """Wrap ``handler`` so path parameters it does not declare are not passed.

    The reference's own examples route ``/users/<int:id>`` to ``get_user(request)``
    and read the value from ``request.view_args``.
    """
    if is_async_callable(handler):

        @functools.wraps(handler)
        async def trimmed_async(request: Request, **params: Any) -> Any:
            for name in dropped:
                params.pop(name, None)
            return await handler(request, **params)

        return trimmed_async

    @functools.wraps(handler)
    def trimmed(request: Request, **params: Any) -> Any:
        for name in dropped:
            params.pop(name, None)
        return handler(request, **params)

    return trimmed


def _coerce_sync(handler: Callable[..., Any], returned: Any) -> BaseResponse:
    """``to_response`` for a plain def's return value, naming a missing ``await``.

    A plain def that returns a coroutine (``return load()`` for an async
    ``load``) cannot be coerced; the TypeError then says so. The coroutine is
    closed, so Python does not also warn that it was never awaited.
    """
    try:
        return to_response(returned)
    except TypeError:
        if not isinstance(returned, Coroutine):
            raise
        returned.close()
        name = getattr(handler, "__qualname__", None) or type(handler).__name__
        raise TypeError(
            f"handler {name} is a plain def but returned a coroutine: did you forget await? "
            "Define it with `async def` and `await` the call (a plain def runs in a thread)"
        ) from None


def bind_handler(handler: Callable[..., Any], path_params: Sequence[str] = ()) -> Endpoint:
    """Call ``handler(request, **view_args)`` and coerce its return value.

    Plain ``def`` handlers run in the default thread pool so they never block
    the event loop (they cannot await the body; read it in middleware, use an
    async handler, or take a typed body parameter). A parameter annotated
    with a ``msgspec.Struct`` receives the validated body (JSON or form, by
    Content-Type; 422 if invalid); the signature is inspected here, once.
    An async handler annotated ``-> Response`` (see ``declares_response``)
    is trusted to return one: it is called with no coercion step.
    """
    trusted = declares_response(handler)
    handler = _typed(handler, path_params)
    param = body_parameter(handler)
    dropped = _unaccepted(handler, path_params)
    if dropped:
        handler = _without_params(handler, dropped)
    if param is not None:
        return _bind_with_body(handler, param)
    if is_async_callable(handler):
        if trusted:
            # PERF: no coroutine frame of ours around the handler (~1,150 instructions).
            return cast(Endpoint, route_call(handler, handler, bool(path_params)))
        if not path_params:
            # PERF: a static rule's handler is called without ``**view_args`` (~700
            # instructions): only a route's parameters are passed, as below. A
            # response answer (nearly always) skips the coercion call (~275).

            async def call_static(request: Request) -> BaseResponse:
                answer = await handler(request)
                return answer if isinstance(answer, BaseResponse) else to_response(answer)

            return call_static

        async def call_async(request: Request) -> BaseResponse:
            return to_response(await handler(request, **request.view_args))

        return call_async

    async def call_sync(request: Request) -> BaseResponse:
        bound = functools.partial(handler, request, **request.view_args)
        return _coerce_sync(handler, await asyncio.to_thread(bound))

    return call_sync


def _typed(handler: Callable[..., Any], path_params: Sequence[str]) -> Callable[..., Any]:
    """``handler`` with its typed query arguments loaded and its return value encoded
    against its return annotation (``-> User``); ``handler`` itself when it has neither.

    Both are found here, once: ``typed_query``/``response_models`` say what the
    OpenAPI document says, so the document describes what the server does.
    """
    from gobstopper.http.response_models import response_encoder
    from gobstopper.http.typed_query import QueryLoader, query_parameters

    query = query_parameters(handler, path_params)
    encode = response_encoder(handler)
    if not query and encode is None:
        return handler
    loader = QueryLoader(query) if query else None
    if is_async_callable(handler):

        @functools.wraps(handler)
        async def typed_async(request: Request, **params: Any) -> Any:
            if loader is not None:
                params.update(loader.load(request.args))
            value = await handler(request, **params)
            return value if encode is None else encode(value)

        return typed_async

    @functools.wraps(handler)
    def typed(request: Request, **params: Any) -> Any:
        if loader is not None:
            params.update(loader.load(request.args))
        value = handler(request, **params)
        return value if encode is None else encode(value)

    return typed


def _bind_with_body(handler: Callable[..., Any], param: BodyParameter) -> Endpoint:
    """``bind_handler`` for a handler with a typed body parameter."""
    name = param.name
    if is_async_callable(handler):

        async def call_async_body(request: Request) -> BaseResponse:
            value = await load_body(request, param)
            return to_response(await handler(request, **request.view_args, **{name: value}))

        return call_async_body

    async def call_sync_body(request: Request) -> BaseResponse:
        value = await load_body(request, param)
        bound = functools.partial(handler, request, **request.view_args, **{name: value})
        return _coerce_sync(handler, await asyncio.to_thread(bound))

    return call_sync_body


def wrap_hooks(
    inner: Endpoint,
    before: Sequence[Callable[..., Any]],
    after: Sequence[Callable[..., Any]],
) -> Endpoint:
    """Run before-hooks and after-hooks around ``inner``.

    A before-hook that returns a value answers instead of ``inner``; the
    after-hooks still run on that answer (as in Flask). An exception skips
    the after-hooks.
    """
    if not before and not after:
        return inner
    before, after = tuple(before), tuple(after)

    async def with_hooks(request: Request) -> BaseResponse:
        response: BaseResponse | None = None
        for hook in before:
            early = await resolved(hook(request))
            if early is not None:
                response = to_response(early)
                break
        if response is None:
            response = await inner(request)
        for hook in after:
            replaced = await resolved(hook(request, response))
            if replaced is not None:
                response = to_response(replaced)
        return response

    return with_hooks


def _bind_middleware(middleware: Callable[..., Any], call_next: Endpoint) -> Endpoint:
    """``middleware`` as an inner layer, whose caller is owed a response.

    PERF: an async middleware annotated ``-> Response`` (``declares_response``)
    is trusted and called with no step of ours (one coroutine frame, ~1,150
    instructions, less per layer); any other gets a step coercing its answer.
    """
    if is_async_callable(middleware):
        if declares_response(middleware):
            return cast(Endpoint, _layer(middleware, call_next))

        async def step_async(request: Request) -> BaseResponse:
            answer = await middleware(request, call_next)
            # PERF: a response (nearly always) skips the coercion call.
            return answer if isinstance(answer, BaseResponse) else to_response(answer)

        return step_async

    async def step_sync(request: Request) -> BaseResponse:
        return to_response(await resolved(middleware(request, call_next)))

    return step_sync


def wrap_middleware(inner: Endpoint, chain: Sequence[Callable[..., Any]]) -> RouteCall:
    """Compose ``chain`` (outermost first) around ``inner``.

    Each middleware's ``call_next`` answers a response (what an inner middleware
    returns is coerced); what the outermost one returns is not: the caller
    coerces it, as it does any route's answer. PERF: so the outermost async
    middleware is called with no step of its own (one coroutine frame, ~0.3 us,
    less per request).

    The chain's LimitsMiddleware instances are not steps: their folded limits
    are set on the request before the first middleware runs, so every body
    read in the chain is bounded by the limits of this route.
    """
    limits = route_limits(chain)
    steps = [m for m in chain if not isinstance(m, LimitsMiddleware)]
    endpoint: RouteCall = inner
    if steps:
        for middleware in reversed(steps[1:]):
            inner = _bind_middleware(middleware, inner)
        endpoint = _outermost(steps[0], inner)
    return endpoint if limits is None else _with_limits(endpoint, limits)


def _outermost(middleware: Callable[..., Any], call_next: Endpoint) -> RouteCall:
    """The outermost middleware's step: its own call when async (its caller coerces)."""
    if not is_async_callable(middleware):
        return _bind_middleware(middleware, call_next)
    return _layer(middleware, call_next)


def _layer(middleware: Callable[..., Any], call_next: Endpoint) -> RouteCall:
    """``layer(request)``: the awaitable of ``middleware(request, call_next)``, as it is."""

    def layer(request: Request) -> Awaitable[Any]:
        return middleware(request, call_next)  # type: ignore[no-any-return]

    return layer


def _with_limits(inner: RouteCall, limits: RouteLimits) -> RouteCall:
    """Set ``limits`` on the request, then run ``inner``.

    PERF: a plain function returning ``inner``'s coroutine adds no coroutine
    frame; three attribute stores per request, and only on routes with limits.
    """
    body, depth, forms = limits

    def limited(request: Request) -> Awaitable[Any]:
        request.max_body_bytes = body
        request.max_json_depth = depth
        request.body_limits = forms
        return inner(request)

    return limited


def response_finisher(chain: Sequence[Callable[..., Any]]) -> Finisher | None:
    """The chain's ``finalize_response`` methods as one call; None if it has none.

    A middleware defines ``finalize_response(request, response)`` for headers
    every response of its routes must carry (security headers, ``Vary``).
    It calls it itself on the responses it returns; the dispatcher calls the
    route's finisher on responses made outside the chain: error pages (500s
    included) and the framework's own answers. Innermost first, as the
    responses would have passed back through the chain.
    """
    steps: list[Finisher] = []
    for middleware in reversed(chain):
        step = getattr(middleware, "finalize_response", None)
        if callable(step):
            steps.append(step)
    if len(steps) < 2:
        return steps[0] if steps else None
    every = tuple(steps)

    def finish(request: Request, response: BaseResponse) -> None:
        for step in every:
            step(request, response)

    return finish


def direct_handler(
    handler: Callable[..., Any],
    middleware: Sequence[Callable[..., Any]],
    before: Sequence[Callable[..., Any]],
    after: Sequence[Callable[..., Any]],
    path_params: Sequence[str] = (),
) -> Callable[..., Any] | None:
    """``handler`` itself when the dispatcher may call it directly, else None.

    PERF: true for an async handler with no middleware, hooks, typed body or
    dropped parameters; the dispatcher then awaits ``handler(request, **params)``
    itself, saving the compiled chain's coroutine frame (~0.3 us per request).
    """
    if middleware or before or after or not is_async_callable(handler):
        return None
    if body_parameter(handler) is not None or _unaccepted(handler, path_params):
        return None
    if _typed(handler, path_params) is not handler:
        return None  # query arguments or a response model: the compiled chain runs them
    return handler


def route_call(run: RouteCall, direct: Callable[..., Any] | None, has_params: bool) -> RouteCall:
    """The one callable the dispatcher awaits for a match of this route, chosen once.

    ``call(request)`` returns the awaitable of the route's answer, which the
    dispatcher coerces: the compiled chain ``run``; or, for a route without a
    chain, the bare async handler ``direct`` (see ``direct_handler``), given
    ``request.view_args`` as keywords when its rule has parameters.

    PERF: no coroutine frame is added, and a static rule's handler is called as
    is (a call with ``**{}`` costs ~0.1 us).
    """
    if direct is None:
        return run
    if not has_params:
        return direct

    def call_with_params(request: Request) -> Awaitable[Any]:
        return direct(request, **request.view_args)  # type: ignore[no-any-return]

    return call_with_params


def compile_route(
    handler: Callable[..., Any],
    middleware: Sequence[Callable[..., Any]],
    before: Sequence[Callable[..., Any]],
    after: Sequence[Callable[..., Any]],
    path_params: Sequence[str] = (),
) -> RouteCall:
    """The whole per-route pipeline as one call; the caller coerces its answer."""
    return wrap_middleware(
        wrap_hooks(bind_handler(handler, path_params), before, after), middleware
    )
