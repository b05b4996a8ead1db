"""Issue 15 over a real Granian server: CSRF form parsing under the route's limits,
token rotation at login, masked tokens, and a session store outage."""

from __future__ import annotations

import httpx
import pytest

from tests.bodies import MULTIPART, multipart_body
from tests.e2e.hardening import fresh_token, hardening_server
from tests.servers import REDIS_INSTALL, redis_server, require_program

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with hardening_server(tmp_path_factory.mktemp("hardening-csrf")) as running:
        yield running


@pytest.fixture
def client(server):
    with httpx.Client(base_url=server.url, timeout=10) as c:
        yield c


# -- item 1: the CSRF check parses forms under the matched route's limits -------------------
def test_an_oversized_form_carrying_the_token_is_refused_by_the_route_limits(client):
    token = fresh_token(client)
    # 21 fields, ~40 KB: the route allows 5 fields and 2,000 bytes.
    form = {"csrf_token": token, **{f"f{i}": "x" * 1900 for i in range(20)}}
    response = client.post("/limited", data=form)
    assert response.status_code == 413
    many_small = {"csrf_token": token, **{f"f{i}": "x" for i in range(20)}}
    assert client.post("/limited", data=many_small).status_code == 413
    within = client.post("/limited", data={"csrf_token": token, "name": "ann"})
    assert within.status_code == 200 and within.json() == {"fields": 2, "files": 0}


def test_an_oversized_multipart_body_carrying_the_token_is_refused(client):
    token = fresh_token(client)
    body = multipart_body({"csrf_token": token}, {"upload": ("big.bin", b"x" * 60_000)})
    response = client.post("/limited", content=body, headers=MULTIPART)
    assert response.status_code == 413
    small = multipart_body({"csrf_token": token}, {"upload": ("a.txt", b"hi")})
    accepted = client.post("/limited", content=small, headers=MULTIPART)
    assert accepted.status_code == 200 and accepted.json() == {"fields": 1, "files": 1}


def test_an_oversized_body_without_a_content_length_is_cut_off(client):
    token = fresh_token(client)

    def chunks():
        yield f"csrf_token={token}".encode()
        for _ in range(40):
            yield b"&f=" + b"x" * 1000

    response = client.post(
        "/limited", content=chunks(), headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 413


# -- item 3: login rotates the token ------------------------------------------------------
def test_a_token_from_before_login_is_refused_after_it(client):
    before = fresh_token(client)
    login = client.post("/login", headers={"X-CSRF-Token": before})
    assert login.status_code == 200
    assert client.post("/submit", headers={"X-CSRF-Token": before}).status_code == 403
    assert client.post("/submit", data={"csrf_token": before}).status_code == 403
    after = login.json()["token"]
    assert client.post("/submit", headers={"X-CSRF-Token": after}).status_code == 200
    assert client.post("/submit", headers={"X-CSRF-Token": fresh_token(client)}).status_code == 200


# -- item 4: tokens are masked afresh on each render ------------------------------------------
def test_each_render_embeds_a_different_token_and_all_of_them_work(client):
    tokens = [fresh_token(client) for _ in range(5)]
    assert len(set(tokens)) == 5
    for token in tokens:
        assert client.post("/submit", headers={"X-CSRF-Token": token}).status_code == 200
        assert client.post("/submit", data={"csrf_token": token}).status_code == 200


def _flip(token: str, index: int) -> str:
    swapped = "A" if token[index] != "A" else "B"
    return token[:index] + swapped + token[index + 1 :]


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda t: _flip(t, 0), id="pad-changed"),
        pytest.param(lambda t: _flip(t, 60), id="cipher-changed"),
        pytest.param(lambda t: t[:43], id="first-half"),
        pytest.param(lambda t: t[43:], id="second-half"),
        pytest.param(lambda t: t[:-1], id="truncated"),
        pytest.param(lambda t: t + "A", id="one-more"),
        pytest.param(lambda t: t + "==", id="padded"),
        pytest.param(
            lambda t: (
                t.replace("-", "+").replace("_", "/") if ("-" in t or "_" in t) else "+" + t[1:]
            ),
            id="standard-alphabet",
        ),
        pytest.param(lambda t: "é" + t[1:], id="non-ascii"),
        pytest.param(lambda t: " " + t[1:], id="space"),
        pytest.param(lambda t: t + t, id="doubled"),
        pytest.param(lambda t: "A" * 86, id="all-zero-pad"),
    ],
)
def test_tampered_or_malformed_tokens_are_refused(client, tamper):
    token = fresh_token(client)
    forged = tamper(token)
    assert forged != token
    assert client.post("/submit", data={"csrf_token": forged}).status_code == 403
    if forged.isascii() and forged.strip() == forged:  # else httpx refuses to send it
        assert client.post("/submit", headers={"X-CSRF-Token": forged}).status_code == 403


def test_a_token_from_another_session_is_refused(server, client):
    with httpx.Client(base_url=server.url, timeout=10) as attacker:
        attackers_token = fresh_token(attacker)
    fresh_token(client)  # the victim has a session (and secret) of its own
    refused = client.post("/submit", headers={"X-CSRF-Token": attackers_token})
    assert refused.status_code == 403


# -- item 9: a session store outage is a 503, not a CSRF failure ----------------------------
def test_a_session_store_outage_answers_503_not_403(tmp_path):
    require_program("redis-server", REDIS_INSTALL)
    with redis_server(tmp_path) as redis:
        with (
            hardening_server(tmp_path, REDIS_URL=redis.url) as server,
            httpx.Client(base_url=server.url, timeout=10) as client,
        ):
            token = fresh_token(client)
            assert client.post("/submit", headers={"X-CSRF-Token": token}).status_code == 200
            redis.stop()
            outage = client.post("/submit", headers={"X-CSRF-Token": token})
            assert outage.status_code == 503
            assert outage.json() == {"error": "Session storage unavailable", "status": 503}
            # Safe requests still run, without the session; nothing is refused as an attack.
            assert client.get("/me").json() == {"user": None}
            assert "CSRF check failed" not in server.log()
