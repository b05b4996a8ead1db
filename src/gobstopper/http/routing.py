"""URL rules, converters, the router and reverse URL building.

Rules look like ``/users/<int:user_id>/posts/<slug>``. A parameter may fill a
whole segment or sit inside one (``/files/<name>.txt``). Matching never scans
all routes: a static path is one dict lookup; dynamic paths walk a segment
trie whose children are tried in a fixed precedence (static, then the typed
converters uuid/date, int, float, then embedded patterns such as ``<name>.txt``,
then ``str``, then ``path``), backtracking when a branch fails.

Paths arrive percent-decoded from Granian; parameters therefore hold decoded
text. A parameter that fails conversion (``<int:id>`` given ``abc``) is a 400
when no other rule matches the path.

``Router.match`` walks once and returns a value either way (Starlette's
``Match`` is the model): a hit carries the endpoint and its parameters, a
``Miss`` says why (the methods routed at the path, or a rejected parameter),
so a 404 or 405 costs no exception until the dispatcher raises the one it owes.
"""

from __future__ import annotations

import datetime
import decimal
import math
import re
import uuid
from collections.abc import Iterator
from typing import Any, NamedTuple
from urllib.parse import quote, urlencode

from gobstopper.http.errors import (
    BadRequest,
    HTTPException,
    MethodNotAllowed,
    NotFound,
    URITooLong,
)

#: Longest path the router walks; a longer one that is no static route is a 414 miss.
MAX_PATH_LENGTH = 8192
#: What ``Gobstopper(slash_policy=...)`` accepts for a path that differs from a
#: route only by a trailing slash (applied by the dispatcher).
SLASH_POLICIES = ("strict", "redirect", "tolerant")


#: Trie weight of a segment with embedded parameters (``<a>-<b>``, ``<name>.txt``):
#: after the typed converters, whose values are narrower (a uuid or a date also
#: matches ``<a>-<b>``), and before a bare ``<str>``, which matches anything.
PATTERN_WEIGHT = 20


class Converter:
    """Turn one path segment into a Python value and back.

    ``weight`` orders siblings in the trie: lower is tried first; siblings of
    equal weight keep their registration order.
    """

    weight = 50
    #: A regex fragment for parameters embedded inside a segment.
    regex = r"[^/]+"

    def to_python(self, value: str) -> Any:
        """Convert ``value`` or raise ``ValueError``."""
        if not value:
            raise ValueError("empty segment")
        return value

    def to_url(self, value: Any) -> str:
        """Render ``value`` for a URL (quoted by the caller)."""
        return str(value)


class StringConverter(Converter):
    """Any non-empty text without ``/`` (the default)."""


class IntConverter(Converter):
    """Non-negative decimal integers, at most 19 digits (no signs)."""

    weight = 10
    regex = r"\d+"

    def to_python(self, value: str) -> int:
        if not value.isascii() or not value.isdigit() or len(value) > 19:
            raise ValueError("not an integer")
        return int(value)

    def to_url(self, value: Any) -> str:
        if isinstance(value, str) and value.isascii() and value.isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"int parameter needs a non-negative int, got {value!r}")
        return str(value)


_FLOAT_RE = re.compile(r"^\d{1,30}(\.\d{1,30})?$")


class FloatConverter(Converter):
    """Non-negative decimals such as ``3`` or ``2.5`` (no exponent, nan)."""

    weight = 11
    regex = r"\d+(?:\.\d+)?"

    def to_python(self, value: str) -> float:
        if not _FLOAT_RE.match(value):
            raise ValueError("not a float")
        return float(value)

    def to_url(self, value: Any) -> str:
        number = float(value)
        if not math.isfinite(number) or number < 0:
            raise ValueError(f"float parameter needs a finite non-negative number, got {value!r}")
        text = format(decimal.Decimal(repr(number)), "f")
        return text if "." in text else text + ".0"


class UUIDConverter(Converter):
    """UUIDs in their canonical 36-character form, returned as ``uuid.UUID``."""

    weight = 5
    regex = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"

    def to_python(self, value: str) -> uuid.UUID:
        if len(value) != 36:
            raise ValueError("not a uuid")
        return uuid.UUID(value)

    def to_url(self, value: Any) -> str:
        return str(uuid.UUID(str(value)))


class DateConverter(Converter):
    """ISO dates ``YYYY-MM-DD``, returned as ``datetime.date``."""

    weight = 6
    regex = r"\d{4}-\d{2}-\d{2}"

    def to_python(self, value: str) -> datetime.date:
        if len(value) != 10:
            raise ValueError("not a date")
        return datetime.date.fromisoformat(value)

    def to_url(self, value: Any) -> str:
        if isinstance(value, datetime.date):
            return value.isoformat()
        return datetime.date.fromisoformat(str(value)).isoformat()


class PathConverter(Converter):
    """One or more segments, slashes included (tried last).

    The value never starts with ``/``, so joining it to a directory cannot
    escape to the filesystem root.
    """

    weight = 90
    regex = r".+"

    def to_url(self, value: Any) -> str:
        return str(value)


CONVERTERS: dict[str, type[Converter]] = {
    "str": StringConverter,
    "string": StringConverter,
    "int": IntConverter,
    "float": FloatConverter,
    "uuid": UUIDConverter,
    "date": DateConverter,
    "path": PathConverter,
}

_PARAM_RE = re.compile(r"<(?:(?P<conv>[a-zA-Z_][a-zA-Z0-9_]*):)?(?P<name>[a-zA-Z_][a-zA-Z0-9_]*)>")


# PERF: NamedTuples and a slotted class, not dataclasses: building a dataclass costs
# ~0.3-0.5 ms of import time each (it exec()s generated methods), a NamedTuple ~0.07 ms.
class _Param(NamedTuple):
    name: str
    converter: Converter


class _Segment(NamedTuple):
    """One compiled segment: static text, a parameter or a pattern."""

    static: str | None = None
    param: _Param | None = None
    pattern: re.Pattern[str] | None = None
    pattern_params: tuple[_Param, ...] = ()
    #: Literal text and parameters of a pattern segment, in order (for URL building).
    pieces: tuple[str | _Param, ...] = ()
    #: A ``<path:...>`` parameter, which may span segments. PERF: a field, not a
    #: property: the walk reads it for every dynamic child it tries.
    is_path: bool = False

    @property
    def key(self) -> Any:
        if self.static is not None:
            return ("s", self.static)
        if self.param is not None:
            return ("p", type(self.param.converter).__name__, self.param.name)
        assert self.pattern is not None
        return ("r", self.pattern.pattern)

    @property
    def shape(self) -> Any:
        """The key without parameter names: equal shapes match the same text."""
        if self.param is not None:
            return ("p", type(self.param.converter).__name__)
        if self.pattern is not None:
            return (
                "r",
                tuple(p if isinstance(p, str) else type(p.converter).__name__ for p in self.pieces),
            )
        return self.key

    @property
    def weight(self) -> int:
        if self.param is not None:
            return self.param.converter.weight
        return PATTERN_WEIGHT


def _make_converter(kind: str | None, rule: str) -> Converter:
    cls = CONVERTERS.get(kind or "str")
    if cls is None:
        raise ValueError(f"unknown converter {kind!r} in rule {rule!r}")
    return cls()


def _compile_segment(text: str, rule: str) -> _Segment:
    matches = list(_PARAM_RE.finditer(text))
    if not matches:
        if "<" in text or ">" in text:
            raise ValueError(f"malformed parameter in rule {rule!r}")
        return _Segment(static=text)
    if len(matches) == 1 and matches[0].group(0) == text:
        m = matches[0]
        converter = _make_converter(m["conv"], rule)
        return _Segment(
            param=_Param(m["name"], converter), is_path=isinstance(converter, PathConverter)
        )
    regex: list[str] = []
    pieces: list[str | _Param] = []
    pos = 0
    for m in matches:
        literal = text[pos : m.start()]
        conv = _make_converter(m["conv"], rule)
        if isinstance(conv, PathConverter):
            raise ValueError(f"<path:...> must fill whole segments in rule {rule!r}")
        param = _Param(m["name"], conv)
        regex += [re.escape(literal), f"(?P<{param.name}>{conv.regex})"]
        pieces += [literal, param]
        pos = m.end()
    regex.append(re.escape(text[pos:]))
    pieces.append(text[pos:])
    return _Segment(
        pattern=re.compile("".join(regex) + r"\Z"),
        pattern_params=tuple(p for p in pieces if isinstance(p, _Param)),
        pieces=tuple(pieces),
    )


def split_path(path: str) -> list[str]:
    """``/a/b`` → ``['a', 'b']``; ``/`` → ``[]``; ``/a/`` → ``['a', '']``."""
    return path[1:].split("/") if path != "/" else []


class Rule(NamedTuple):
    """A compiled URL rule: its text, segments and parameter names."""

    rule: str
    segments: list[_Segment]

    @classmethod
    def compile(cls, rule: str) -> Rule:
        if not rule.startswith("/"):
            raise ValueError(f"route rule must start with '/': {rule!r}")
        segments = [_compile_segment(part, rule) for part in split_path(rule)]
        names = [p.name for s in segments for p in ([s.param] if s.param else s.pattern_params)]
        if len(names) != len(set(names)):
            raise ValueError(f"duplicate parameter name in rule {rule!r}")
        return cls(rule, segments)

    @property
    def param_names(self) -> tuple[str, ...]:
        """The rule's parameter names, in order."""
        return tuple(
            p.name for s in self.segments for p in ([s.param] if s.param else s.pattern_params)
        )

    @property
    def shape(self) -> tuple[Any, ...]:
        """The segments without names: equal shapes match the same paths."""
        return tuple(segment.shape for segment in self.segments)

    @property
    def is_static(self) -> bool:
        return all(s.static is not None for s in self.segments)

    def build(self, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """Fill the rule with ``params``; return the path and the unused params."""
        remaining = dict(params)
        parts: list[str] = []
        for segment in self.segments:
            if segment.static is not None:
                parts.append(quote(segment.static))
                continue
            if segment.param is not None:
                parts.append(self._fill(segment.param, remaining))
                continue
            parts.append(
                "".join(
                    quote(piece) if isinstance(piece, str) else self._fill(piece, remaining)
                    for piece in segment.pieces
                )
            )
        return "/" + "/".join(parts), remaining

    def _fill(self, param: _Param, remaining: dict[str, Any]) -> str:
        if param.name not in remaining:
            raise ValueError(f"missing parameter {param.name!r} for rule {self.rule!r}")
        text = param.converter.to_url(remaining.pop(param.name))
        safe = "/" if isinstance(param.converter, PathConverter) else ""
        return quote(text, safe=safe)


class _Node:
    """A trie node: static children by text, dynamic children by weight, endpoints by method."""

    __slots__ = ("dynamic", "endpoints", "static")

    def __init__(self) -> None:
        self.static: dict[str, _Node] = {}
        self.dynamic: list[tuple[_Segment, _Node]] = []
        self.endpoints: dict[str, Any] = {}

    def child(self, segment: _Segment) -> _Node:
        if segment.static is not None:
            return self.static.setdefault(segment.static, _Node())
        for existing, node in self.dynamic:
            if existing.key == segment.key:
                return node
        node = _Node()
        self.dynamic.append((segment, node))
        self.dynamic.sort(key=lambda pair: pair[0].weight)
        return node


class Miss(NamedTuple):
    """Why ``Router.match`` found no endpoint for ``(method, path)``, as a status.

    405: rules match the path for other methods, listed in ``allowed``; 400:
    a parameter of a rule that fits the path failed conversion; 414: the path
    is longer than ``MAX_PATH_LENGTH`` (and not walked); 404: nothing fits.
    """

    status: int = 404
    allowed: tuple[str, ...] = ()

    def error(self) -> HTTPException:
        """The exception this miss answers with (a 405 carries ``Allow``)."""
        status = self.status
        if status == 405:
            return MethodNotAllowed(list(self.allowed))
        if status == 400:
            return BadRequest("Invalid path parameter")
        if status == 414:
            return URITooLong()
        return NotFound()


#: What ``Router.match`` returns: ``(endpoint, params, None)`` for a hit,
#: ``(None, {}, miss)`` for a miss.
# PERF: a plain tuple, not a NamedTuple: building a tuple subclass per request costs
# ~0.2 us on the benchmark machine, a tuple ~0.05 us, and unpacking it is the fastest read.
Match = tuple[Any, dict[str, Any], Miss | None]
_NOTHING_FITS = Miss(404)
_TOO_LONG = Miss(414)


class _MatchState:
    """What a dynamic match learned on the way, for 400 and 405 answers.

    PERF: the class attributes are the defaults and there is no ``__init__``: a
    walk that learns nothing costs one empty object (~0.08 us, ~0.2 us with one).
    """

    conversion_failed = False
    allowed: frozenset[str] = frozenset()

    def pick(self, table: dict[str, Any], method: str) -> Any:
        endpoint = _for_method(table, method)
        if endpoint is None:
            self.allowed = self.allowed.union(_allowed(table))
        return endpoint


class Router:
    """Map ``(method, path)`` to an endpoint object and its converted params.

    Endpoints are opaque to the router (the app stores compiled handlers).
    """

    def __init__(self) -> None:
        # PERF: static paths are one dict hit: path -> {method: endpoint}.
        self._static: dict[str, dict[str, Any]] = {}
        self._root = _Node()
        self._rules: dict[str, Rule] = {}
        self._tables: dict[str, dict[str, Any]] = {}
        self._shapes: dict[tuple[Any, ...], str] = {}
        #: Has any dynamic rule been added (is there a trie to walk)?
        self._dynamic = False
        self.conflicts: list[str] = []

    def add(self, rule: str, methods: list[str] | tuple[str, ...], endpoint: Any) -> Rule:
        """Register ``endpoint`` for ``rule`` and ``methods``; return the rule.

        Routes match in registration order: a method already registered for
        the same rule keeps its first endpoint, and the conflict is recorded
        in ``conflicts`` (the app logs it).
        """
        compiled = self._rules.get(rule) or Rule.compile(rule)
        self._rules[rule] = compiled
        shape = compiled.shape
        twin = self._shapes.setdefault(shape, rule)
        if twin != rule and set(methods) & set(self._tables.get(twin, {})):
            self.conflicts.append(f"{rule} matches the same paths as {twin}; {twin} wins")
        if compiled.is_static:
            table = self._static.setdefault(rule, {})
        else:
            node = self._root
            for segment in compiled.segments:
                node = node.child(segment)
            table = node.endpoints
            self._dynamic = True
        self._tables[rule] = table
        for method in methods:
            method = method.upper()
            if method in table:
                self.conflicts.append(f"{method} {rule} registered twice; the first one wins")
                continue
            table[method] = endpoint
        return compiled

    def match(self, method: str, path: str) -> Match:
        """Find the endpoint for ``method`` at ``path`` in one walk; never raises.

        Returns ``(endpoint, params, None)``, or ``(None, {}, miss)``: a path
        that matches rules only for other methods is a 405 miss listing them,
        one whose only candidate rules rejected a parameter a 400 miss, an
        over-long one a 414 miss (see ``Miss``).
        """
        table = self._static.get(path)
        if table is not None:
            # PERF: the method's own entry first, without a call; HEAD falls back to GET.
            endpoint = table.get(method)
            if endpoint is None and method == "HEAD":
                endpoint = table.get("GET")
            if endpoint is not None:
                return endpoint, {}, None
        elif len(path) > MAX_PATH_LENGTH:
            return None, {}, _TOO_LONG
        state = _MatchState()
        if self._dynamic:
            found = _walk(self._root, split_path(path), 0, {}, method, state)
            if found is not None:
                return found
        allowed = state.allowed
        if table is not None:
            allowed = allowed.union(_allowed(table))
        if allowed:
            return None, {}, Miss(405, tuple(sorted(allowed)))
        return None, {}, Miss(400) if state.conversion_failed else _NOTHING_FITS

    def rules(self) -> Iterator[Rule]:
        """Every registered rule, in registration order."""
        return iter(self._rules.values())

    def methods(self) -> set[str]:
        """Every method routed at some path (HEAD included where GET is)."""
        found: set[str] = set()
        for table in self._tables.values():
            found.update(_allowed(table))
        return found

    def endpoints_for(self, rule: str) -> list[Any]:
        """The endpoints registered for ``rule`` (one per method, deduplicated)."""
        unique: dict[int, Any] = {}
        for endpoint in self._tables.get(rule, {}).values():
            unique.setdefault(id(endpoint), endpoint)
        return list(unique.values())


def _for_method(table: dict[str, Any], method: str) -> Any:
    endpoint = table.get(method)
    if endpoint is None and method == "HEAD":
        return table.get("GET")
    return endpoint


def _allowed(table: dict[str, Any]) -> list[str]:
    methods = set(table)
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


def _walk(
    node: _Node,
    parts: list[str],
    index: int,
    params: dict[str, Any],
    method: str,
    tracker: _MatchState,
) -> Match | None:
    if index == len(parts):
        if not node.endpoints:
            return None
        endpoint = tracker.pick(node.endpoints, method)
        return None if endpoint is None else (endpoint, params, None)
    part = parts[index]
    child = node.static.get(part)
    if child is not None:
        found = _walk(child, parts, index + 1, params, method, tracker)
        if found is not None:
            return found
    for segment, nxt in node.dynamic:
        if segment.is_path:
            found = _walk_path(segment, nxt, parts, index, params, method, tracker)
        else:
            values = _convert_segment(segment, part)
            found = None
            if values is _REJECTED:
                # A 400 only if the rest of the path fits this rule; else it is a 404.
                if not tracker.conversion_failed and _fits(nxt, parts, index + 1):
                    tracker.conversion_failed = True
            elif values is not None:
                found = _walk(nxt, parts, index + 1, {**params, **values}, method, tracker)
        if found is not None:
            return found
    return None


def _fits(node: _Node, parts: list[str], index: int) -> bool:
    """Could ``parts[index:]`` reach an endpoint, values aside?"""
    if index == len(parts):
        return bool(node.endpoints)
    part = parts[index]
    child = node.static.get(part)
    if child is not None and _fits(child, parts, index + 1):
        return True
    if not part:
        return False
    for segment, nxt in node.dynamic:
        if segment.is_path:
            return True  # a path parameter can absorb the rest
        if segment.pattern is not None and segment.pattern.match(part) is None:
            continue
        if _fits(nxt, parts, index + 1):
            return True
    return False


def _walk_path(
    segment: _Segment,
    nxt: _Node,
    parts: list[str],
    index: int,
    params: dict[str, Any],
    method: str,
    tracker: _MatchState,
) -> Match | None:
    assert segment.param is not None
    last = len(parts)
    if index < last and not parts[index]:
        # A path value never starts with "/": "Path(root) / value" must stay under root.
        return None
    # Shortest tail first, so "/<path:p>/edit" wins over "/<path:p>" for ".../edit".
    # PERF: only stop where the rest of the rule can continue (a dict hit per
    # segment), so a path of thousands of segments costs one join, not thousands.
    for end in range(index + 1, last + 1):
        if end < last:
            if not nxt.dynamic and parts[end] not in nxt.static:
                continue
        elif not nxt.endpoints:
            continue
        value = "/".join(parts[index:end])
        if not value:
            continue
        found = _walk(nxt, parts, end, {**params, segment.param.name: value}, method, tracker)
        if found is not None:
            return found
    return None


#: A sentinel compared by identity: "a converter refused this value" (never merged).
_REJECTED: dict[str, Any] = {}


def _convert_segment(segment: _Segment, part: str) -> dict[str, Any] | None:
    """Convert one segment: values, ``None`` (wrong shape) or ``_REJECTED``.

    ``_REJECTED`` means a converter refused a value of the right shape (a
    400 candidate)."""
    if not part:
        return None
    param = segment.param
    if param is not None:
        try:
            value: Any = param.converter.to_python(part)
        except ValueError:
            return _REJECTED
        return {param.name: value}
    assert segment.pattern is not None
    m = segment.pattern.match(part)
    if m is None:
        return None
    try:
        values: dict[str, Any] = {
            p.name: p.converter.to_python(m[p.name]) for p in segment.pattern_params
        }
    except ValueError:
        return _REJECTED
    return values


def build_url(rule: Rule, params: dict[str, Any], prefix: str = "") -> str:
    """Build ``prefix + rule``; extra params become the query string."""
    path, extra = rule.build(params)
    query = {k: v for k, v in extra.items() if v is not None}
    url = prefix + path if prefix else path
    if query:
        url += "?" + urlencode(query, doseq=True)
    return url
