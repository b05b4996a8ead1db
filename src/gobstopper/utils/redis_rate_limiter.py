"""Rate limits kept in Redis, so every worker and machine using one server shares them.

``RedisTokenBucketLimiter`` and ``RedisRateLimiter`` take the same arguments and make
the same decisions as ``TokenBucketLimiter`` and ``RateLimiter``; their methods are
coroutines, which ``@rate_limit`` awaits. Each decision is one round trip: a Lua
script that Redis runs atomically reads the key's state, decides, writes the state
back and sets the key to expire when it would equal a key never seen (a full bucket,
windows that have passed), so idle keys vanish by themselves. Time is the Redis
server's (``TIME``), so machines whose clocks disagree still share one limit.

Limiter keys are ``str``, any of them; the Redis key is ``prefix`` plus ``=`` and the
key's UTF-8, or ``#`` and the SHA-256 of it when that is longer than ``MAX_KEY_BYTES``
or not valid UTF-8 (lone surrogates), so every Redis key stays short, readable text.
The prefix names the limit: give each limit its own.

When Redis cannot be reached (connection refused or lost, timeout) a limiter with
``fail_open=True`` (the default) allows the call, so a Redis outage does not take the
site down, and logs one warning per outage; with ``fail_open=False`` it raises
``ServiceUnavailable`` (503). Other Redis errors (a script error, a key of another
type under the same prefix) propagate. redis-py retries a failed connection with
backoff by default (seconds); pass ``retry`` / ``socket_timeout`` to the client to
decide how long a call waits before counting as an outage.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from gobstopper.http.errors import ServiceUnavailable
from gobstopper.logs import logger_named
from gobstopper.service_checks import ServiceCheck, redis_address
from gobstopper.utils.rate_limiter import _EPSILON, SlidingWindowPolicy, TokenBucketPolicy

if TYPE_CHECKING:
    import logging

    from redis.asyncio import Redis

#: Keys longer than this many UTF-8 bytes are stored under their SHA-256 digest.
MAX_KEY_BYTES = 128
DEFAULT_PREFIX = "gobstopper:rl:"

# Shared head of both scripts. The last argument is the time in microseconds (tests)
# or empty for the server's TIME; whole microseconds since the epoch are exact doubles.
# Numbers go back to Redis and Python as "%.17g" strings: Lua's tostring keeps 14
# digits and a Lua number returned as a reply is truncated to an integer.
_PRELUDE = """
local now = tonumber(ARGV[#ARGV])
if not now then
  local time = redis.call('TIME')
  now = tonumber(time[1]) * 1000000 + tonumber(time[2])
end
local function num(x) return string.format('%.17g', x) end
"""

# KEYS[1], a hash: t = when it was last written (µs), d = seconds until full from then.
# ARGV: cost / rate, the most seconds a bucket may be from full (capacity / rate + slack),
# '1' to take the tokens if they are there or '0' to only look, now.
# Reply: {1 if allowed, seconds from full after paying}. Debt is kept relative to t so
# the arithmetic stays on small numbers, as exact as the in-memory limiter's.
_BUCKET_SCRIPT = (
    _PRELUDE
    + """
local wait, most = tonumber(ARGV[1]), tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 't', 'd')
local debt = wait
if state[1] then
  local elapsed = math.max(now - tonumber(state[1]), 0) / 1000000
  debt = math.max(tonumber(state[2]) - elapsed, 0) + wait
end
local allowed = debt <= most
if allowed and ARGV[3] == '1' then
  redis.call('HSET', KEYS[1], 't', num(now), 'd', num(debt))
  redis.call('PEXPIRE', KEYS[1], math.ceil(debt * 1000))
end
return {allowed and 1 or 0, num(debt)}
"""
)

# KEYS[1], a hash: w = the window last counted in, p = the window before's count,
# c = that window's count. ARGV: cost, the most a key may count (max_requests + slack),
# window seconds, '1' to count the cost if it fits or '0' to only look, now.
# Reply: {1 if allowed, previous, current (before this cost), elapsed share of window}.
# Positions are worked out in microseconds: with a whole number of them per window,
# the elapsed share is exact, where ``now / window`` in seconds would be off by ~1e-7.
_WINDOW_SCRIPT = (
    _PRELUDE
    + """
local cost, most, span = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]) * 1000000
local index = math.floor(now / span)
local elapsed = (now - index * span) / span
local state = redis.call('HMGET', KEYS[1], 'w', 'p', 'c')
local previous, current = 0, 0
if state[1] then
  local seen = tonumber(state[1])
  if seen == index then
    previous, current = tonumber(state[2]), tonumber(state[3])
  elseif seen == index - 1 then
    previous = tonumber(state[3])
  end
end
local allowed = previous * (1 - elapsed) + current + cost <= most
if allowed and ARGV[4] == '1' then
  redis.call('HSET', KEYS[1], 'w', num(index), 'p', num(previous), 'c', num(current + cost))
  redis.call('PEXPIRE', KEYS[1], math.ceil(((index + 2) * span - now) / 1000))
end
return {allowed and 1 or 0, num(previous), num(current), num(elapsed)}
"""
)


class _RedisLimit:
    """What both Redis limiters share: key naming, the clock, the script call, outages."""

    _SCRIPT: ClassVar[str]

    def __init__(
        self, client: Redis, prefix: str, fail_open: bool, clock: Callable[[], float] | None
    ) -> None:
        if not isinstance(prefix, str):
            raise TypeError(f"prefix must be a str, got {prefix!r}")
        self.client = client
        self.prefix = prefix
        self.fail_open = fail_open
        self._prefix = prefix.encode()
        self._clock = clock
        self._script = client.register_script(self._SCRIPT)
        self._outage = False

    def service_checks(self) -> list[ServiceCheck]:
        """The Redis server this limit needs, for the app's startup check."""
        degraded = (
            "the limit lets every call through"
            if self.fail_open
            else "limited calls are answered 503"
        )
        return [
            ServiceCheck(
                f"Redis rate limit {self.prefix!r} at {redis_address(self.client)}",
                self.client.ping,
                degraded + " until it is back",
            )
        ]

    def redis_key(self, key: str) -> bytes:
        """The Redis key holding ``key``'s state: stable across processes and machines."""
        if not isinstance(key, str):
            raise TypeError(f"Redis limiter keys must be str, got {type(key).__name__}")
        try:
            raw = key.encode()
            if len(raw) <= MAX_KEY_BYTES:
                return self._prefix + b"=" + raw
        except UnicodeEncodeError:  # lone surrogates, e.g. from undecodable header bytes
            raw = key.encode("utf-8", "surrogatepass")
        return self._prefix + b"#" + hashlib.sha256(raw).hexdigest().encode()

    async def _run(self, key: str, *args: float) -> list[Any] | None:
        """The script's reply for ``key``; None if Redis is unreachable and failing open."""
        now = "" if self._clock is None else round(self._clock() * 1_000_000)
        try:
            reply: list[Any] = await self._script(keys=[self.redis_key(key)], args=[*args, now])
        except (RedisConnectionError, RedisTimeoutError) as exc:
            if not self._outage:
                self._outage = True
                _logger().warning(
                    "rate limiter %r: Redis unreachable (%s); %s until it is back",
                    self.prefix,
                    exc,
                    "allowing calls" if self.fail_open else "answering 503",
                )
            if self.fail_open:
                return None
            raise ServiceUnavailable() from exc
        if self._outage:
            self._outage = False
            _logger().info("rate limiter %r: Redis reachable again", self.prefix)
        return reply


class RedisTokenBucketLimiter(TokenBucketPolicy, _RedisLimit):
    """``TokenBucketLimiter`` in Redis: bursts of ``capacity``, ``rate`` calls a second.

    A key is a hash of two numbers (when it was written, seconds until full from
    then) expiring when the bucket is full. ``clock`` (seconds since the epoch) replaces
    the server's time, for tests only.
    """

    _SCRIPT = _BUCKET_SCRIPT

    def __init__(
        self,
        client: Redis,
        rate: float,
        capacity: float,
        *,
        prefix: str = DEFAULT_PREFIX,
        fail_open: bool = True,
        clock: Callable[[], float] | None = None,
    ) -> None:
        TokenBucketPolicy.__init__(self, rate, capacity)
        _RedisLimit.__init__(self, client, prefix, fail_open, clock)
        self._most = self._refill_seconds + _EPSILON

    async def allow(self, key: str, cost: float = 1.0) -> bool:
        """Take ``cost`` tokens from ``key``'s bucket; False, taking none, if too few.

        A ``cost`` above ``capacity`` is False at once, without a round trip.
        """
        if not self.payable(cost):
            return False
        reply = await self._run(key, cost / self.rate, self._most, 1)
        return reply is None or reply[0] == 1

    async def retry_after(self, key: str, cost: float = 1.0) -> float:
        """Seconds until ``allow(key, cost)`` would succeed: 0.0 now, ``math.inf`` never."""
        if not self.payable(cost):
            return math.inf
        reply = await self._run(key, cost / self.rate, self._most, 0)
        return 0.0 if reply is None else max(0.0, float(reply[1]) - self._refill_seconds)


class RedisRateLimiter(SlidingWindowPolicy, _RedisLimit):
    """``RateLimiter`` in Redis: about ``max_requests`` per ``window`` seconds per key.

    A key is a hash of its window and the counts of that window and the one before,
    expiring two windows after its last counted request. ``clock`` (seconds since the
    epoch) replaces the server's time, for tests only.
    """

    _SCRIPT = _WINDOW_SCRIPT

    def __init__(
        self,
        client: Redis,
        max_requests: int,
        window: float,
        *,
        prefix: str = DEFAULT_PREFIX,
        fail_open: bool = True,
        clock: Callable[[], float] | None = None,
    ) -> None:
        SlidingWindowPolicy.__init__(self, max_requests, window)
        _RedisLimit.__init__(self, client, prefix, fail_open, clock)
        self._most = max_requests + _EPSILON

    async def check(self, key: str) -> bool:
        """True if one more request from ``key`` is within the limit (and count it)."""
        return await self.allow(key)

    async def allow(self, key: str, cost: float = 1.0) -> bool:
        """Count ``cost`` requests for ``key`` if within the limit; False, counting none, if not.

        A ``cost`` above ``max_requests`` is False at once, without a round trip.
        """
        if not self.payable(cost):
            return False
        reply = await self._run(key, cost, self._most, self.window, 1)
        return reply is None or reply[0] == 1

    async def retry_after(self, key: str, cost: float = 1.0) -> float:
        """Seconds until ``allow(key, cost)`` would succeed: 0.0 now, ``math.inf`` never."""
        if not self.payable(cost):
            return math.inf
        reply = await self._run(key, cost, self._most, self.window, 0)
        if reply is None:
            return 0.0
        previous, current, elapsed = (float(value) for value in reply[1:])
        return self._retry_after(previous, current, elapsed, cost)


def _logger() -> logging.Logger:
    return logger_named("gobstopper.ratelimit")
