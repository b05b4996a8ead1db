"""``parse_query`` agrees with ``urllib.parse.parse_qs`` and bounds its work."""

from __future__ import annotations

import random
from urllib.parse import parse_qs

import pytest

from gobstopper.http.errors import BadRequest
from gobstopper.http.query import MAX_QUERY_PARAMS, headers_dict, parse_query

CASES = [
    "",
    "a=1",
    "a=1&a=2&b=",
    "a",
    "a&b=2",
    "&&a=1&&",
    "q=hello+world",
    "q=%20%2B%26",
    "na%6De=v",
    "a=%zz",
    "a=%E2%82%AC",
    "a=%ff",
    "=v",
    "a==b",
    "k+1=v+1",
    "a=1;b=2",
]


@pytest.mark.parametrize("query", CASES)
def test_matches_parse_qs(query):
    assert parse_query(query) == parse_qs(query, keep_blank_values=True)


def test_matches_parse_qs_on_random_queries():
    alphabet = "ab=&+%2F0z;é"
    rng = random.Random(7)
    for _ in range(2000):
        query = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        assert parse_query(query) == parse_qs(query, keep_blank_values=True), query


def test_too_many_parameters_is_a_bad_request():
    assert len(parse_query("&".join(f"k{i}" for i in range(MAX_QUERY_PARAMS)))) == 1000
    with pytest.raises(BadRequest):
        parse_query("&".join(f"k{i}" for i in range(MAX_QUERY_PARAMS + 1)))
    with pytest.raises(BadRequest):
        parse_query("&" * 50_000)


def test_headers_dict_lowercases_and_joins():
    class Raw:
        def items(self):
            return [("Accept", "a"), ("accept", "b"), ("Cookie", "x=1"), ("cookie", "y=2")]

    assert headers_dict(Raw()) == {"accept": "a, b", "cookie": "x=1; y=2"}
