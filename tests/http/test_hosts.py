"""Host checks and allowed hosts (issue 15, item 7), in-process."""

from __future__ import annotations

import logging

import pytest

from gobstopper import Gobstopper
from gobstopper.http import hosts as hosts_module
from gobstopper.http.errors import BadRequest
from gobstopper.http.hosts import HostPolicy, host_name
from gobstopper.testing import FakeHeaders, FakeHTTPProtocol, FakeScope, TestClient


def scope(*hosts: str, authority: str | None = None, version: str = "1.1") -> FakeScope:
    fake = FakeScope("GET", "/", "", FakeHeaders([("host", host) for host in hosts]))
    fake.authority = authority
    fake.http_version = version
    return fake


@pytest.mark.parametrize(
    ("value", "name"),
    [
        ("example.com", "example.com"),
        ("Example.COM.", "example.com"),
        ("example.com:8080", "example.com"),
        ("my_service:80", "my_service"),
        ("127.0.0.1", "127.0.0.1"),
        ("[::1]:443", "[::1]"),
        ("[0:0:0::1]", "[::1]"),
        ("[::ffff:127.0.0.1]", "[::ffff:7f00:1]"),
        ("localhost:65535", "localhost"),
    ],
)
def test_host_name_canonical_form(value, name):
    assert host_name(value) == name


@pytest.mark.parametrize(
    "value",
    [
        "",
        ":80",
        "example.com:",
        "example.com:65536",
        "example.com:-1",
        "example.com:+80",
        'evil.com"><script>',
        "evil.com/reset?token=",
        "evil.com:80@good",
        "user@evil.com",
        "a..b",
        ".example.com",
        "example..",
        "a b",
        "a\tb",
        "evil.com\n",
        "%65vil.com",
        "evil.com#x",
        "evil.com\\x",
        "[::1",
        "::1",
        "[zz::1]",
        "[::1]x",
        "[1.2.3.4]",
        "a" * 64 + ".com",
        "a." * 130 + "com",
        "good.example, evil.com",
        "é.example",
    ],
)
def test_malformed_hosts(value):
    assert host_name(value) is None


def test_check_accepts_one_well_formed_host_and_remembers_it():
    policy = HostPolicy()
    policy.check(scope("example.com:8000"))
    policy.check(scope("example.com:8000"))
    assert policy._accepted == {"example.com:8000"}


@pytest.mark.parametrize(
    ("fake", "message"),
    [
        (scope("a.example", "b.example"), "More than one Host header"),
        (scope("a.example", "a.example"), "More than one Host header"),
        (scope(), "Missing Host header"),
        (scope(""), "Invalid Host header"),
        (scope("evil.com/x"), "Invalid Host header"),
        (scope("good.example", authority="evil.com/x"), "Invalid Host header"),
        (scope(authority="bad host", version="2"), "Invalid Host header"),
    ],
)
def test_check_refuses(fake, message):
    with pytest.raises(BadRequest, match=message):
        HostPolicy().check(fake)


def test_check_lets_http_1_0_and_http_2_without_host_through():
    HostPolicy().check(scope(version="1.0"))
    HostPolicy().check(scope(authority="example.com", version="2"))
    HostPolicy(["example.com"]).check(scope(authority="example.com", version="2"))


def test_a_cached_host_does_not_skip_the_authority_check():
    policy = HostPolicy(["good.example"])
    policy.check(scope("good.example"))
    with pytest.raises(BadRequest, match="Host not allowed"):
        policy.check(scope("good.example", authority="evil.com"))


def test_the_memory_of_accepted_hosts_is_bounded():
    policy = HostPolicy()
    for n in range(200):
        policy.check(scope(f"host{n}.example"))
    assert len(policy._accepted) == 64
    policy.check(scope("host199.example"))  # not remembered, still accepted


@pytest.mark.parametrize(
    ("allowed", "host", "ok"),
    [
        (["example.com"], "example.com", True),
        (["example.com"], "EXAMPLE.com.:443", True),
        (["example.com"], "www.example.com", False),
        (["example.com"], "example.com.evil.org", False),
        (["*.example.com"], "www.example.com", True),
        (["*.example.com"], "a.b.example.com", True),
        (["*.example.com"], "example.com", False),
        (["*.example.com"], "evilexample.com", False),
        (["*"], "anything.example", True),
        (["[::1]"], "[0::1]:8000", True),
        (["127.0.0.1"], "127.0.0.2", False),
        (["Example.COM."], "example.com", True),
    ],
)
def test_allowed_hosts(allowed, host, ok):
    policy = HostPolicy(allowed)
    if ok:
        policy.check(scope(host))
    else:
        with pytest.raises(BadRequest, match="Host not allowed"):
            policy.check(scope(host))


@pytest.mark.parametrize(
    "entry",
    [
        "example.com:80",
        "http://example.com",
        "example.com/",
        "*example.com",
        "foo.*.com",
        "*.",
        "**",
        "",
        " ",
        "*.*.example.com",
        "[::1]:80",
        42,
    ],
)
def test_bad_allowed_hosts_entries_fail_at_construction(entry):
    with pytest.raises(ValueError, match="allowed_hosts entry"):
        HostPolicy([entry])


def test_allowed_hosts_must_be_a_non_empty_list():
    with pytest.raises(TypeError, match="not a str"):
        HostPolicy("example.com")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least one"):
        HostPolicy([])


def test_the_argument_wins_over_the_environment(monkeypatch):
    monkeypatch.setenv("GOBSTOPPER_ALLOWED_HOSTS", " a.example , *.b.example ,")
    assert HostPolicy.configured(None).allowed_hosts == ("a.example", "*.b.example")
    assert HostPolicy.configured(["c.example"]).allowed_hosts == ("c.example",)
    monkeypatch.setenv("GOBSTOPPER_ALLOWED_HOSTS", " , ")
    assert not HostPolicy.configured(None).restricted


def test_an_app_with_allowed_hosts_refuses_others():
    app = Gobstopper(__name__, allowed_hosts=["good.example", "*.good.example"])

    @app.get("/")
    async def index(request):
        return {"host": request.host, "url": request.url}

    with TestClient(app) as client:
        assert client.get("http://api.good.example/").json() == {
            "host": "api.good.example",
            "url": "http://api.good.example/",
        }
        refused = client.get("http://evil.example/")
        assert refused.status == 400 and refused.json()["error"] == "Host not allowed"
        assert client.get("/", headers={"Host": "evil.com/x"}).status == 400


def test_trusted_forwarded_hosts_are_checked_against_allowed_hosts():
    app = Gobstopper(
        __name__, allowed_hosts=["good.example", "*.good.example"], trusted_proxies=["127.0.0.1"]
    )

    @app.get("/")
    async def index(request):
        return request.host

    with TestClient(app) as client:

        def ask(forwarded):
            return client.get("http://good.example/", headers={"X-Forwarded-Host": forwarded})

        assert ask("cdn.good.example").text == "cdn.good.example"
        assert ask("evil.com").status == 400
        assert ask("evil.com/x").text == "good.example"  # malformed: ignored, as before
    with TestClient(app, client="10.0.0.9:1234") as untrusted:
        response = untrusted.get("http://good.example/", headers={"X-Forwarded-Host": "evil.com"})
        assert response.text == "good.example"


def test_request_host_prefers_the_targets_authority():
    app = Gobstopper(__name__)

    @app.get("/")
    async def index(request):
        return request.url

    fake = scope("other.example", authority="good.example")
    proto = FakeHTTPProtocol(b"")
    with TestClient(app) as client:
        client.run(app.__rsgi__(fake, proto))
    assert proto.status == 200 and proto.chunks == [b"http://good.example/"]


def test_production_without_allowed_hosts_warns_at_startup(monkeypatch, caplog):
    monkeypatch.setenv("ENV", "production")
    monkeypatch.delenv("GOBSTOPPER_ALLOWED_HOSTS", raising=False)
    with (
        caplog.at_level(logging.WARNING, logger="gobstopper.hosts"),
        TestClient(Gobstopper(__name__)),
    ):
        pass
    assert "GOBSTOPPER_ALLOWED_HOSTS" in caplog.text
    caplog.clear()
    with (
        caplog.at_level(logging.WARNING, logger="gobstopper.hosts"),
        TestClient(Gobstopper(__name__, allowed_hosts=["good.example"])),
    ):
        pass
    assert caplog.text == ""


def test_a_dict_scope_with_plain_headers_still_works():
    app = Gobstopper(__name__)

    @app.get("/")
    async def index(request):
        return request.host

    proto = FakeHTTPProtocol(b"")
    raw = {
        "proto": "http",
        "method": "GET",
        "path": "/",
        "query_string": "",
        "headers": {"Host": "x.example"},
        "client": "127.0.0.1:1",
        "scheme": "http",
        "server": "x:80",
        "authority": None,
        "http_version": "1.1",
    }
    with TestClient(app) as client:
        client.run(app.__rsgi__(raw, proto))
    assert proto.status == 200 and proto.chunks == [b"x.example"]


def test_a_known_host_is_not_parsed_again(monkeypatch):
    """The check runs on every request: a host seen before is a set lookup, not a parse."""
    policy, fake = HostPolicy(), scope("example.com:8000")
    parsed: list[str] = []

    def counting_host_name(value: str) -> str | None:
        parsed.append(value)
        return host_name(value)

    monkeypatch.setattr(hosts_module, "host_name", counting_host_name)
    for _ in range(3):
        policy.check(fake)
    assert parsed == ["example.com:8000"]
    with pytest.raises(BadRequest, match="More than one Host"):
        policy.check(scope("example.com:8000", "example.com:8000"))  # known, yet repeated
