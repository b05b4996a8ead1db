"""Check a handler's signature against its route, once, at registration.

The router calls ``handler(request, **path_params)`` (a WebSocket handler
gets the ``websocket`` first). A handler that cannot take that call would
raise ``TypeError`` on every request, a 500 found in production; these
checks raise it at registration instead, naming the route and the fix.

Only signatures that must fail are refused. An HTTP handler may leave out
path parameters it does not use (the reference reads them from
``request.view_args``); a WebSocket handler may not, since it is passed
every one. A blueprint route is checked against its own rule when it is
registered, and again with its prefixes when the app compiles its routes,
because a prefix such as ``/org/<int:org_id>`` adds parameters.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any


class _Accepts:
    """How a handler can be called, after the argument that receives the request.

    PERF: a plain ``__slots__`` class: this module loads with ``import gobstopper``
    and a NamedTuple costs ~0.25 ms to build there.
    """

    __slots__ = ("any_keyword", "first", "has_first", "named", "required")

    def __init__(self, signature: inspect.Signature) -> None:
        #: A positional parameter (or ``*args``) receives the request; ``first`` names it.
        self.has_first, self.first, self.any_keyword = False, "", False
        #: Parameters a keyword can fill; parameters with no default (positional-only too).
        self.named: set[str] = set()
        self.required: list[str] = []
        for param in signature.parameters.values():
            kind = param.kind
            if kind is param.VAR_KEYWORD:
                self.any_keyword = True
            elif kind is param.VAR_POSITIONAL:
                self.has_first = True
            elif not self.has_first and kind is not param.KEYWORD_ONLY:
                self.has_first, self.first = True, param.name
            else:
                if kind is not param.POSITIONAL_ONLY:
                    self.named.add(param.name)
                if param.default is param.empty:
                    self.required.append(param.name)


def _quoted(names: Sequence[str]) -> str:
    return ", ".join(repr(name) for name in names) or "none"


def check_handler(
    rule: str,
    handler: Callable[..., Any],
    path_params: Sequence[str],
    *,
    websocket: bool = False,
    complete: bool = True,
) -> None:
    """Raise ``TypeError`` if the router cannot call ``handler`` for ``rule``.

    ``complete`` is False while a prefix may still add path parameters (a
    blueprint's own registration): a handler parameter that no parameter
    of ``rule`` fills is then not yet an error.
    """
    try:
        signature = inspect.signature(handler)
    except (TypeError, ValueError):
        return  # a builtin or C callable: nothing to inspect
    receiver = "websocket" if websocket else "request"
    accepts = _Accepts(signature)
    name = getattr(handler, "__qualname__", None) or type(handler).__name__
    where = f"route {rule!r}: {name}{signature}"
    if not accepts.has_first:
        raise TypeError(
            f"{where} has no parameter for the {receiver}, which is passed "
            f"first, by position; define it as {name}({receiver}, ...)"
        )
    if accepts.first in path_params:
        raise TypeError(
            f"{where}: its first parameter {accepts.first!r} receives the "
            f"{receiver}, not the path parameter; define it as "
            f"{name}({receiver}, {accepts.first}, ...)"
        )
    problems = _mismatches(accepts, path_params, handler, websocket, complete)
    if problems:
        passed = f" ({path_params[0]!r} is passed as {path_params[0]}=)" if path_params else ""
        raise TypeError(
            f"{where} has {' and '.join(problems)}; name its parameters after the path "
            f"parameters{passed}, give the others a default, or take **kwargs"
        )


def _mismatches(
    accepts: _Accepts,
    path_params: Sequence[str],
    handler: Callable[..., Any],
    websocket: bool,
    complete: bool,
) -> list[str]:
    """Describe path parameters with no argument and arguments with no value."""
    filled = set(path_params)
    if not websocket:
        from gobstopper.http.injection import body_parameter  # PERF: loads only to register

        body = body_parameter(handler)
        if body is not None:
            filled.add(body.name)
    problems = []
    if websocket and not accepts.any_keyword:
        missing = [param for param in path_params if param not in accepts.named]
        if missing:
            problems.append(f"no parameter for path parameter {_quoted(missing)}")
    # A positional-only parameter is never filled: path parameters arrive by keyword.
    unfilled = [
        param
        for param in accepts.required
        if param not in accepts.named or (complete and param not in filled)
    ]
    if unfilled:
        problems.append(
            f"parameter {_quoted(unfilled)} that no path parameter ({_quoted(path_params)}) fills"
        )
    return problems
