"""RedisBackplane against a real redis-server: two managers stand for two processes."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

from gobstopper.testing import AsyncTestClient
from gobstopper.websocket import Backplane, RedisBackplane, WebSocketManager
from tests.polling import eventually
from tests.servers import free_port
from tests.websocket.room_app import room_app

DEADLINE = 10.0
LOGGER = "gobstopper.websocket"


async def subscribers(client: Redis, channel: str) -> int:
    [(_, count)] = await client.pubsub_numsub(channel)
    return int(count)


async def wait_subscribers(client: Redis, channel: str, count: int) -> None:
    async def check() -> bool:
        return await subscribers(client, channel) == count

    await eventually(check, f"{count} subscribers on {channel}")


class Inbox:
    """A ``deliver`` function that records what it gets; raises for messages in ``fail_on``."""

    def __init__(self, fail_on: tuple[str | bytes, ...] = ()) -> None:
        self.items: list[tuple[str | None, str | bytes]] = []
        self.fail_on = fail_on

    async def __call__(self, room: str | None, message: str | bytes) -> None:
        if message in self.fail_on:
            raise RuntimeError(f"deliver failed on {message!r}")
        self.items.append((room, message))

    async def wait(self, count: int) -> list[tuple[str | None, str | bytes]]:
        await eventually(lambda: len(self.items) >= count, f"{count} deliveries")
        return self.items


@pytest.fixture
def channel() -> str:
    return f"test:ws:{uuid.uuid4().hex}"


@pytest.fixture
async def second_client(redis_client: Redis, redis_url: str) -> AsyncIterator[Redis]:
    """Another process's client, decoding like ``redis_client``."""
    decode = redis_client.get_encoder().decode_responses
    client = Redis.from_url(redis_url, decode_responses=decode)
    try:
        yield client
    finally:
        await client.aclose()


async def test_broadcasts_reach_both_managers_once_in_order_keeping_types(
    redis_client: Redis, second_client: Redis, channel: str
):
    first = WebSocketManager(backplane=RedisBackplane(redis_client, channel))
    second = WebSocketManager(backplane=RedisBackplane(second_client, channel))
    assert isinstance(first.backplane, Backplane)
    async with AsyncTestClient(room_app(first)) as one, AsyncTestClient(room_app(second)) as two:
        a = await one.websocket_connect("/join?id=a&rooms=news")
        outsider = await one.websocket_connect("/join?id=outsider&rooms=")
        b = await two.websocket_connect("/join?id=b&rooms=news")
        for ws in (a, outsider, b):
            assert await ws.receive_text() == "joined"
        await wait_subscribers(redis_client, channel, 2)

        sent: list[str | bytes] = [f"m{i}" if i % 2 else f"m{i}\x00".encode() for i in range(20)]
        for message in sent:
            await first.broadcast_to_room("news", message)
        await first.broadcast_to_all("to all")
        await second.broadcast_to_all(b"end")
        for ws in (a, b):
            got = [(m.type, m.data) for m in [await ws.receive() for _ in range(22)]]
            expected = [("text" if isinstance(m, str) else "bytes", m) for m in sent]
            assert got == [*expected, ("text", "to all"), ("bytes", b"end")]
        # Not in the room: only the broadcasts to all, once each.
        assert await outsider.receive_text() == "to all"
        assert await outsider.receive_bytes() == b"end"
        with pytest.raises(TimeoutError):
            await outsider.receive(timeout=0.2)

        await b.send_text("news")  # manager two's handler broadcasts to "news"
        assert await a.receive_text() == await b.receive_text() == "b says hi"

        await first.close_all()
        await second.close_all()
        assert await a.wait_closed() == await b.wait_closed() == 1001
        for ws in (a, outsider, b):
            await ws.close()
    await wait_subscribers(redis_client, channel, 0)  # close_all() closed the backplanes
    assert await redis_client.ping()  # ... but not the clients


async def test_publish_right_after_attach_is_delivered_locally(redis_client: Redis, channel: str):
    backplane = RedisBackplane(redis_client, channel)
    inbox = Inbox()
    backplane.attach(inbox)
    await backplane.publish("r", "first")  # waits for the subscription, not lost
    assert await inbox.wait(1) == [("r", "first")]
    await backplane.close()


async def test_a_ready_manager_gets_the_first_broadcast_of_another_process(
    redis_client: Redis, second_client: Redis, channel: str
):
    # Process B is ready (as at app startup) before anyone publishes; A's very first
    # broadcast, published the moment A itself subscribed, reaches B's member.
    inbox = Inbox()
    here = WebSocketManager(backplane=RedisBackplane(second_client, channel))
    here._deliver = inbox  # type: ignore[method-assign]
    assert await here.ready() is True
    there = WebSocketManager(backplane=RedisBackplane(redis_client, channel))
    await there.broadcast_to_room("r", "first")
    assert await inbox.wait(1) == [("r", "first")]
    await here.close_all()
    await there.close_all()


async def test_ready_gives_up_with_a_warning_naming_the_server(
    channel: str, caplog: pytest.LogCaptureFixture
):
    client = Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=0.2)
    backplane = RedisBackplane(client, channel)
    backplane.attach(Inbox())
    try:
        with caplog.at_level(logging.WARNING, logger=LOGGER):
            assert await backplane.ready(timeout=0.3) is False
        assert (
            f"redis://127.0.0.1:{client.connection_pool.connection_kwargs['port']}/0" in caplog.text
        )
        assert "lost until it does" in caplog.text
    finally:
        await backplane.close()
        await client.aclose()


async def test_the_in_process_backplane_is_ready_at_once():
    assert await WebSocketManager().ready() is True


async def test_publish_before_attach_and_attach_twice_raise(redis_client: Redis, channel: str):
    backplane = RedisBackplane(redis_client, channel)
    with pytest.raises(RuntimeError, match="before attach"):
        await backplane.publish("r", "early")
    assert await subscribers(redis_client, channel) == 0
    backplane.attach(Inbox())
    with pytest.raises(RuntimeError, match="twice"):
        backplane.attach(Inbox())
    await backplane.close()


async def test_junk_on_the_channel_is_logged_and_skipped(
    redis_client: Redis, channel: str, caplog: pytest.LogCaptureFixture
):
    backplane = RedisBackplane(redis_client, channel)
    inbox = Inbox()
    backplane.attach(inbox)
    await backplane.publish(None, "before")
    await inbox.wait(1)
    junk = [
        "not json",
        "{}",
        '["x", null, "y"]',
        '["t", 1, "y"]',
        '["t", null]',
        '["b", "r", "not base64!"]',
        '["t", null, "x", "extra"]',
        "",
        "\x00\x01",
    ]
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        for payload in junk:
            await redis_client.publish(channel, payload)
        await backplane.publish("r", b"after")
        assert await inbox.wait(2) == [(None, "before"), ("r", b"after")]
    skipped = [r for r in caplog.records if "malformed payload" in r.getMessage()]
    assert len(skipped) == len(junk)
    await backplane.close()


async def test_a_payload_that_is_not_utf8_does_not_stop_the_listener(
    redis_client: Redis, channel: str, caplog: pytest.LogCaptureFixture
):
    backplane = RedisBackplane(redis_client, channel)
    inbox = Inbox()
    backplane.attach(inbox)
    await backplane.publish(None, "before")
    await inbox.wait(1)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        await redis_client.publish(channel, b"\xff\xfe\x80")
        if not redis_client.get_encoder().decode_responses:
            await backplane.publish(None, "after")  # raw payloads: nothing is lost
            assert await inbox.wait(2) == [(None, "before"), (None, "after")]
        else:
            # redis-py cannot decode it; the listener resubscribes, later messages arrive.
            await eventually(lambda: "not UTF-8" in caplog.text, "the warning")
            await wait_subscribers(redis_client, channel, 1)
            await backplane.publish(None, "after")
            assert await inbox.wait(2) == [(None, "before"), (None, "after")]
    await backplane.close()


async def test_a_failing_deliver_does_not_stop_the_listener(
    redis_client: Redis, channel: str, caplog: pytest.LogCaptureFixture
):
    backplane = RedisBackplane(redis_client, channel)
    inbox = Inbox(fail_on=("boom",))
    backplane.attach(inbox)
    with caplog.at_level(logging.ERROR, logger=LOGGER):
        for message in ("one", "boom", "two", "boom", "three"):
            await backplane.publish("r", message)
        assert await inbox.wait(3) == [("r", "one"), ("r", "two"), ("r", "three")]
    assert sum("delivering a broadcast" in r.getMessage() for r in caplog.records) == 2
    await backplane.close()


async def test_close_is_idempotent_stops_delivery_and_keeps_the_client(
    redis_client: Redis, second_client: Redis, channel: str
):
    closing, staying = RedisBackplane(redis_client, channel), RedisBackplane(second_client, channel)
    closed_inbox, inbox = Inbox(), Inbox()
    closing.attach(closed_inbox)
    staying.attach(inbox)
    await wait_subscribers(redis_client, channel, 2)
    await closing.publish(None, "both")
    await closed_inbox.wait(1)
    await closing.close()
    await closing.close()
    assert "closed" in repr(closing)
    assert await subscribers(redis_client, channel) == 1
    await staying.publish(None, "after close")
    await closing.publish(None, "still published")  # other processes still hear it
    assert await inbox.wait(3) == [(None, "both"), (None, "after close"), (None, "still published")]
    assert closed_inbox.items == [(None, "both")]
    assert await redis_client.ping()  # the user's client stays open
    await staying.close()
    await RedisBackplane(redis_client, channel).close()  # never attached: nothing to do


@pytest.mark.parametrize("retries", [None, 0], ids=["client-retries", "no-client-retries"])
async def test_the_listener_resubscribes_after_its_connection_is_killed(
    redis_client: Redis,
    redis_url: str,
    channel: str,
    retries: int | None,
    caplog: pytest.LogCaptureFixture,
):
    # redis-py's own retries reconnect transparently; without them the backplane does.
    options = {} if retries is None else {"retry": Retry(NoBackoff(), retries)}
    decode = redis_client.get_encoder().decode_responses
    client = Redis.from_url(redis_url, decode_responses=decode, **options)
    backplane = RedisBackplane(client, channel)
    inbox = Inbox()
    backplane.attach(inbox)
    try:
        with caplog.at_level(logging.INFO, logger=LOGGER):
            await backplane.publish("r", "before")
            await inbox.wait(1)
            assert await redis_client.client_kill_filter(_type="pubsub") >= 1
            assert await subscribers(redis_client, channel) == 0
            await wait_subscribers(redis_client, channel, 1)
            await redis_client.publish(channel, '["t", "r", "after"]')  # from another process
            await backplane.publish("r", b"mine")
            assert await inbox.wait(3) == [("r", "before"), ("r", "after"), ("r", b"mine")]
        if retries == 0:
            warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
            assert len(warnings) == 1 and "lost its subscription" in warnings[0].getMessage()
            assert "resubscribed" in caplog.text
    finally:  # a failed assertion must not leave a socket open for pytest's unraisable check
        await backplane.close()
        await client.aclose()


class Relay:
    """A loopback TCP relay to Redis that can be cut (connections refused) and restored."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()
        self.handlers: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        """Stop listening, drop every relayed connection and wait for their handlers."""
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()
        for writer in self.writers:
            writer.close()
        if self.handlers:
            await asyncio.wait(self.handlers, timeout=DEADLINE)

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.handlers.add(task)
        task.add_done_callback(self.handlers.discard)
        self.writers.add(writer)
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self.writers.add(up_writer)

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            try:
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            except OSError:
                pass
            finally:
                sink.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


async def test_an_outage_is_logged_once_retried_with_backoff_and_recovered(
    redis_client: Redis, redis_url: str, channel: str, caplog: pytest.LogCaptureFixture
):
    relay = Relay(int(redis_url.rsplit(":", 1)[1]))
    await relay.start()
    decode = redis_client.get_encoder().decode_responses
    # One quick retry, so redis-py itself gives up at once and the backplane backs off.
    client = Redis.from_url(
        f"redis://127.0.0.1:{relay.port}", decode_responses=decode, retry=Retry(NoBackoff(), 1)
    )
    backplane = RedisBackplane(client, channel)
    inbox = Inbox()
    backplane.attach(inbox)
    try:
        with caplog.at_level(logging.DEBUG, logger=LOGGER):
            await backplane.publish(None, "before")
            await inbox.wait(1)
            await relay.cut()
            await eventually(
                lambda: "reconnect attempt 3 failed" in caplog.text, "3 failed attempts"
            )
            with pytest.raises(RedisConnectionError):
                await backplane.publish(None, "unreachable")
            await redis_client.publish(channel, '["t", null, "lost"]')  # nobody listens
            await relay.start()
            await wait_subscribers(redis_client, channel, 1)
            # From another process: this client's pool may still hold a dead connection.
            await redis_client.publish(channel, '["t", null, "after"]')
            assert await inbox.wait(2) == [(None, "before"), (None, "after")]
        warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert len(warnings) == 1 and "lost its subscription" in warnings[0].getMessage()
        assert "resubscribed" in caplog.text
    finally:
        await backplane.close()
        await client.aclose()
        await relay.cut()
