"""Converters, rules, the router and URL building (no app involved)."""

from __future__ import annotations

import datetime
import time
import uuid

import pytest

from gobstopper.http.errors import BadRequest, MethodNotAllowed, NotFound, URITooLong
from gobstopper.http.routing import (
    CONVERTERS,
    MAX_PATH_LENGTH,
    DateConverter,
    FloatConverter,
    IntConverter,
    Miss,
    PathConverter,
    Router,
    Rule,
    StringConverter,
    UUIDConverter,
    build_url,
    split_path,
)


@pytest.mark.parametrize(
    ("converter", "text", "value"),
    [
        (StringConverter(), "abc", "abc"),
        (IntConverter(), "0042", 42),
        (IntConverter(), "9" * 19, int("9" * 19)),
        (FloatConverter(), "3", 3.0),
        (FloatConverter(), "2.50", 2.5),
        (
            UUIDConverter(),
            "12345678-1234-5678-1234-567812345678",
            uuid.UUID("12345678-1234-5678-1234-567812345678"),
        ),
        (DateConverter(), "2024-02-29", datetime.date(2024, 2, 29)),
        (PathConverter(), "a/b/c", "a/b/c"),
    ],
)
def test_converters_accept(converter, text, value):
    assert converter.to_python(text) == value


@pytest.mark.parametrize(
    ("converter", "text"),
    [
        (StringConverter(), ""),
        (IntConverter(), "9" * 20),
        (IntConverter(), "9" * 400),
        (IntConverter(), "-1"),
        (IntConverter(), "+1"),
        (IntConverter(), "1_000"),
        (IntConverter(), "١٢"),  # non-ASCII digits
        (IntConverter(), " 1"),
        (FloatConverter(), "1e5"),
        (FloatConverter(), "nan"),
        (FloatConverter(), "inf"),
        (FloatConverter(), "-2.5"),
        (FloatConverter(), "1." + "1" * 400),
        (UUIDConverter(), "12345678123456781234567812345678"),
        (UUIDConverter(), "{12345678-1234-5678-1234-567812345678}"),
        (DateConverter(), "2023-02-29"),
        (DateConverter(), "20240101"),
        (DateConverter(), "2024-1-1"),
    ],
)
def test_converters_reject_with_value_error(converter, text):
    with pytest.raises(ValueError):
        converter.to_python(text)


def test_converter_names():
    assert set(CONVERTERS) == {"str", "string", "int", "float", "uuid", "date", "path"}


@pytest.mark.parametrize(
    ("path", "parts"), [("/", []), ("/a", ["a"]), ("/a/b", ["a", "b"]), ("/a/", ["a", ""])]
)
def test_split_path(path, parts):
    assert split_path(path) == parts


def test_rule_compile_errors():
    for bad in ["nope", "/<int:x", "/<bad:x>", "/<x>/<x>", "/a<path:p>", "/<1x>"]:
        with pytest.raises(ValueError):
            Rule.compile(bad)


def test_rule_build_quotes_and_reports_unused_params():
    rule = Rule.compile("/a b/<name>/<path:rest>")
    path, extra = rule.build({"name": "x/y", "rest": "c d/e", "other": 1})
    assert path == "/a%20b/x%2Fy/c%20d/e"
    assert extra == {"other": 1}


def test_build_url_adds_a_query_string_and_a_prefix():
    rule = Rule.compile("/u/<int:id>")
    assert build_url(rule, {"id": 3, "q": "a b", "none": None}, "/mnt") == "/mnt/u/3?q=a+b"


# -- router ------------------------------------------------------------------------------
def hit(router: Router, method: str, path: str) -> tuple[object, dict]:
    """``(endpoint, params)`` of a match that must be a hit."""
    endpoint, params, missed = router.match(method, path)
    assert missed is None and endpoint is not None, f"{method} {path} missed: {missed}"
    return endpoint, params


def miss(router: Router, method: str, path: str) -> Exception:
    """The exception a match that must be a miss answers with."""
    endpoint, params, missed = router.match(method, path)
    assert missed is not None, f"{method} {path} matched {endpoint!r}"
    assert endpoint is None and params == {}
    return missed.error()


def test_static_hit_and_methods():
    router = Router()
    router.add("/a", ["GET", "POST"], "ep")
    assert hit(router, "GET", "/a") == ("ep", {})
    assert hit(router, "HEAD", "/a") == ("ep", {})
    error = miss(router, "DELETE", "/a")
    assert isinstance(error, MethodNotAllowed)
    assert error.allowed == ["GET", "HEAD", "POST"]
    assert error.headers == {"allow": "GET, HEAD, POST"}
    assert isinstance(miss(router, "GET", "/b"), NotFound)


def test_a_miss_is_a_value_that_says_why():
    router = Router()
    router.add("/x", ["PUT"], "x")
    router.add("/y/<int:i>", ["GET"], "y")
    assert router.match("GET", "/x") == (None, {}, Miss(405, ("PUT",)))
    assert router.match("POST", "/y/1")[2] == Miss(405, ("GET", "HEAD"))
    assert router.match("GET", "/y/one") == (None, {}, Miss(400))
    assert router.match("GET", "/z") == (None, {}, Miss(404))
    too_long = "/y/" + "1" * MAX_PATH_LENGTH
    assert router.match("GET", too_long) == (None, {}, Miss(414))
    assert isinstance(miss(router, "GET", too_long), URITooLong)
    assert router.match("GET", "/y/1") == ("y", {"i": 1}, None)
    assert [r.rule for r in router.rules()] == ["/x", "/y/<int:i>"]


def test_head_only_falls_back_to_get_not_other_methods():
    router = Router()
    router.add("/p", ["POST"], "ep")
    assert isinstance(miss(router, "HEAD", "/p"), MethodNotAllowed)


def test_dynamic_backtracking():
    router = Router()
    router.add("/a/<x>/b", ["GET"], "first")
    router.add("/a/<int:n>/c", ["GET"], "second")
    assert hit(router, "GET", "/a/5/b") == ("first", {"x": "5"})
    assert hit(router, "GET", "/a/5/c") == ("second", {"n": 5})


def test_embedded_parameters_inside_a_segment():
    router = Router()
    router.add("/files/<name>.<ext>", ["GET"], "file")
    router.add("/v<int:major>.<int:minor>/x", ["GET"], "version")
    assert hit(router, "GET", "/files/report.final.pdf") == (
        "file",
        {"name": "report.final", "ext": "pdf"},
    )
    assert hit(router, "GET", "/v2.10/x") == ("version", {"major": 2, "minor": 10})
    assert isinstance(miss(router, "GET", "/vX.1/x"), NotFound)


UUID = "123e4567-e89b-12d3-a456-426614174000"
# (embedded pattern rule, typed rule, a path both match, a path only the pattern matches)
PATTERN_VS_TYPED = [
    ("/x/<a>-<b>", "/x/<uuid:u>", f"/x/{UUID}", "/x/left-right"),
    ("/x/<a>-<b>", "/x/<date:d>", "/x/2024-01-31", "/x/left-right"),
    ("/x/<int:a>.<int:b>", "/x/<float:f>", "/x/1.5", None),
    ("/x/<a>0", "/x/<int:n>", "/x/10", "/x/a0"),
]


@pytest.mark.parametrize(("pattern", "typed", "both", "pattern_only"), PATTERN_VS_TYPED)
@pytest.mark.parametrize("typed_first", [False, True], ids=["pattern-first", "typed-first"])
def test_typed_converters_beat_embedded_patterns_in_either_registration_order(
    pattern, typed, both, pattern_only, typed_first
):
    """docs/decisions.md: uuid/date, int, float, then embedded patterns, then str, then path."""
    router = Router()
    rules = [(typed, "typed"), (pattern, "pattern")]
    for rule, name in rules if typed_first else rules[::-1]:
        router.add(rule, ["GET"], name)
    router.add("/x/<s>", ["GET"], "str")
    router.add("/x/<path:p>", ["GET"], "path")
    assert router.match("GET", both)[0] == "typed"
    if pattern_only is not None:
        assert router.match("GET", pattern_only)[0] == "pattern"
    assert router.match("GET", "/x/plain")[0] == "str"
    assert router.match("GET", "/x/a/b")[0] == "path"
    assert router.conflicts == []


def test_conversion_failure_is_400_but_other_methods_win_as_405():
    router = Router()
    router.add("/u/<int:id>", ["GET"], "user")
    assert isinstance(miss(router, "GET", "/u/x"), BadRequest)
    router.add("/u/<name>", ["POST"], "by-name")
    assert isinstance(miss(router, "GET", "/u/x"), MethodNotAllowed)


def test_path_values_never_start_with_a_slash():
    router = Router()
    router.add("/static/<path:p>", ["GET"], "static")
    assert hit(router, "GET", "/static/a//b") == ("static", {"p": "a//b"})
    assert hit(router, "GET", "/static/a/") == ("static", {"p": "a/"})
    assert isinstance(miss(router, "GET", "/static//etc/passwd"), NotFound)


def test_pathological_paths_stay_fast():
    router = Router()
    router.add("/<path:a>/edit", ["GET"], "edit")
    router.add("/<path:a>/x/<path:b>/end", ["GET"], "two-paths")
    router.add("/<a>/<b>/<c>", ["GET"], "three")
    long_path = "/" + "/".join(["s"] * 4000)
    started = time.monotonic()
    for _ in range(5):
        assert isinstance(miss(router, "GET", long_path), NotFound)
    assert router.match("GET", long_path + "/edit")[0] == "edit"
    assert time.monotonic() - started < 2


def test_a_static_route_costs_one_dict_lookup_and_no_trie_walk(monkeypatch):
    import gobstopper.http.routing as routing

    router = Router()
    router.add("/static", ["GET"], "s")
    router.add("/<dyn>", ["GET"], "d")

    def forbidden(*args, **kwargs):
        raise AssertionError("the trie must not be walked for a static hit")

    monkeypatch.setattr(routing, "_walk", forbidden)
    assert hit(router, "GET", "/static") == ("s", {})


def test_a_rejected_value_is_400_only_when_the_rest_of_the_path_fits():
    router = Router()
    router.add("/n/<int:n>", ["GET"], "n")
    router.add("/m/<int:n>/edit", ["GET"], "edit")
    assert isinstance(miss(router, "GET", "/n/x"), BadRequest)
    assert isinstance(miss(router, "GET", "/m/x/edit"), BadRequest)
    for path in ["/n/x/y", "/m/x/view", "/m/x"]:
        assert isinstance(miss(router, "GET", path), NotFound)
