"""Per-key rate limits kept in memory, and ``@rate_limit`` to apply them to a handler.

``TokenBucketLimiter(rate, capacity)`` allows bursts of ``capacity`` and ``rate``
requests per second on average; ``RateLimiter(max_requests, window)`` allows about
``max_requests`` per ``window`` seconds. ``@rate_limit(limiter)`` puts either in
front of a handler and answers 429 with ``Retry-After``.

Single process only: with several workers each keeps its own counts, so clients get
up to ``workers`` times the limit. For a limit shared by workers and machines use
``gobstopper.utils.redis_rate_limiter``: same arguments, same decisions, kept in Redis.

Memory stays bounded however many distinct keys arrive: a key is forgotten once its
state is that of a key never seen (a full bucket, windows that have passed), so only
keys active in the last ``capacity / rate`` (or ``2 * window``) seconds take space.
Each call forgets up to ``SWEEP_BATCH`` such keys from the least recently used end:
amortised O(1) per call, never a long pause.
"""

from __future__ import annotations

import asyncio
import functools
import math
import threading
import time
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Protocol, TypeVar, cast

from gobstopper.awaitables import is_async_callable, resolved
from gobstopper.http.errors import TooManyRequests
from gobstopper.service_checks import declare_components

F = TypeVar("F", bound=Callable[..., Any])
K = TypeVar("K")
K_contra = TypeVar("K_contra", contravariant=True)
Clock = Callable[[], float]

#: Most idle keys forgotten per call; more than the one key a call can add.
SWEEP_BATCH = 8
# Slack for float comparisons: sums of cost / rate are not exact in binary.
_EPSILON = 1e-9


def _positive(name: str, value: float) -> float:
    """``value`` if it is a positive finite number, else ``ValueError``."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not (math.isfinite(value) and value > 0)
    ):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return value


class _PerKeyState(ABC):
    """The table both limiters keep: one entry per key, least recently used first."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._state: OrderedDict[Hashable, Any] = OrderedDict()
        # Sync handlers run in threads and may share a limiter with async ones.
        self._lock = threading.Lock()

    def __len__(self) -> int:
        """How many keys are remembered (the limiter's memory use)."""
        return len(self._state)

    @abstractmethod
    def _idle(self, entry: Any, now: float) -> bool:
        """Does ``entry`` say nothing a missing entry would not?"""

    def _store(self, key: Hashable, entry: Any) -> None:
        self._state[key] = entry
        self._state.move_to_end(key)

    def _sweep(self, now: float) -> None:
        """Forget up to SWEEP_BATCH idle keys, least recently used first."""
        state = self._state
        for _ in range(SWEEP_BATCH):
            if not state:
                return
            oldest = next(iter(state))
            if not self._idle(state[oldest], now):
                return
            del state[oldest]


class _CostPolicy:
    """The most one call may cost (``capacity``, ``max_requests``), and checks against it.

    A cost above it is a refusal when a call asks (``allow`` is False, ``retry_after``
    is ``math.inf``), as for any other call over the limit, but an error where a cost
    is configured once (``rate_limit``), since such a route could never be served.
    """

    _largest_cost: float
    _largest_cost_name: str

    def payable(self, cost: float) -> bool:
        """Could ``cost`` ever be allowed? ``ValueError`` if it is not a positive number."""
        return _positive("cost", cost) <= self._largest_cost

    def validate_cost(self, cost: float) -> float:
        """``cost``, or ``ValueError`` if it is not positive or could never be paid."""
        if not self.payable(cost):
            raise ValueError(
                f"cost {cost!r} exceeds {self._largest_cost_name} "
                f"{self._largest_cost!r}: it would never be allowed"
            )
        return cost


class TokenBucketPolicy(_CostPolicy):
    """A token bucket's validated parameters: ``rate`` tokens a second, ``capacity`` at most.

    The in-memory and the Redis token buckets share it, so both accept, refuse and
    cost-check the same arguments.
    """

    _largest_cost_name = "capacity"

    def __init__(self, rate: float, capacity: float) -> None:
        self.rate = _positive("rate", rate)
        if _positive("capacity", capacity) < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity!r}")
        self.capacity = self._largest_cost = capacity
        self._refill_seconds = capacity / rate


class TokenBucketLimiter(TokenBucketPolicy, _PerKeyState):
    """A bucket of ``capacity`` tokens per key, refilled at ``rate`` tokens per second.

    A key stores one number: the instant its bucket will be full again (until then
    it holds ``capacity - (full_at - now) * rate`` tokens). The least recently used
    key is full at most ``capacity / rate`` seconds after its last use, so sweeping
    from that end keeps only keys used within that time. Thread-safe. ``clock``
    (seconds, monotonic) is injectable for tests.
    """

    def __init__(self, rate: float, capacity: float, *, clock: Clock = time.monotonic) -> None:
        TokenBucketPolicy.__init__(self, rate, capacity)
        _PerKeyState.__init__(self, clock)

    def allow(self, key: Hashable, cost: float = 1.0) -> bool:
        """Take ``cost`` tokens from ``key``'s bucket; False, taking none, if too few.

        A ``cost`` above ``capacity`` is always False: the bucket never holds that many.
        """
        if not self.payable(cost):
            return False
        wait = cost / self.rate
        with self._lock:
            now = self._clock()
            self._sweep(now)
            full_at = max(self._state.get(key, now), now) + wait
            if full_at - now > self._refill_seconds + _EPSILON:
                return False
            self._store(key, full_at)
            return True

    def retry_after(self, key: Hashable, cost: float = 1.0) -> float:
        """Seconds until ``allow(key, cost)`` would succeed: 0.0 now, ``math.inf`` never."""
        if not self.payable(cost):
            return math.inf
        wait = cost / self.rate
        with self._lock:
            now = self._clock()
            full_at: float = max(self._state.get(key, now), now) + wait
            return max(0.0, full_at - self._refill_seconds - now)

    def _idle(self, entry: float, now: float) -> bool:
        return entry <= now


class SlidingWindowPolicy(_CostPolicy):
    """A sliding window's validated parameters: ``max_requests`` per ``window`` seconds.

    The in-memory and the Redis window limiters share it: the same argument checks,
    and the same answer to "how long until this cost fits?".
    """

    _largest_cost_name = "max_requests"

    def __init__(self, max_requests: int, window: float) -> None:
        if isinstance(max_requests, bool) or not isinstance(max_requests, int) or max_requests < 1:
            raise ValueError(f"max_requests must be an int of at least 1, got {max_requests!r}")
        self.max_requests = self._largest_cost = max_requests
        self.window = _positive("window", window)

    def _retry_after(self, previous: float, current: float, elapsed: float, cost: float) -> float:
        """Seconds until ``cost`` fits, given the counts and the current window's elapsed share."""
        room = self.max_requests - cost
        if previous * (1 - elapsed) + current <= room + _EPSILON:
            return 0.0
        if current <= room:  # the previous window's weight falls to zero by this one's end
            return self.window * (1 - (room - current) / previous - elapsed)
        # Only after the next boundary, as ``current`` becomes the fading previous window.
        return self.window * (2 - room / current - elapsed)


class RateLimiter(SlidingWindowPolicy, _PerKeyState):
    """About ``max_requests`` per ``window`` seconds per key (sliding window counter).

    Time is cut into windows of ``window`` seconds. A key keeps its counts for the
    current and the previous window, and a request is allowed while
    ``previous * (share of the current window still to come) + current + cost`` stays
    within ``max_requests``. So the current window alone never exceeds the limit,
    and, unlike a plain fixed window, a client cannot send twice the limit across a
    window boundary. A key is forgotten two windows after its last counted request.
    Thread-safe; ``clock`` is injectable for tests.
    """

    def __init__(self, max_requests: int, window: float, *, clock: Clock = time.monotonic) -> None:
        SlidingWindowPolicy.__init__(self, max_requests, window)
        _PerKeyState.__init__(self, clock)

    def check(self, key: Hashable) -> bool:
        """True if one more request from ``key`` is within the limit (and count it)."""
        return self.allow(key)

    def allow(self, key: Hashable, cost: float = 1.0) -> bool:
        """Count ``cost`` requests for ``key`` if within the limit; False, counting none, if not.

        A ``cost`` above ``max_requests`` is always False.
        """
        if not self.payable(cost):
            return False
        with self._lock:
            now = self._clock()
            self._sweep(now)
            index, elapsed = self._position(now)
            previous, current = self._counts(key, index)
            if previous * (1 - elapsed) + current + cost > self.max_requests + _EPSILON:
                return False
            self._store(key, (index, previous, current + cost))
            return True

    def retry_after(self, key: Hashable, cost: float = 1.0) -> float:
        """Seconds until ``allow(key, cost)`` would succeed: 0.0 now, ``math.inf`` never."""
        if not self.payable(cost):
            return math.inf
        with self._lock:
            index, elapsed = self._position(self._clock())
            previous, current = self._counts(key, index)
        return self._retry_after(previous, current, elapsed, cost)

    def _position(self, now: float) -> tuple[int, float]:
        """The window ``now`` falls in, and the share of it already elapsed."""
        position = now / self.window
        index = math.floor(position)
        return index, position - index

    def _counts(self, key: Hashable, index: int) -> tuple[float, float]:
        """``key``'s (previous, current) counts as seen from window ``index``."""
        entry = self._state.get(key)
        if entry is None:
            return 0.0, 0.0
        seen, previous, current = entry
        if seen == index:
            return previous, current
        if seen == index - 1:
            return current, 0.0
        return 0.0, 0.0

    def _idle(self, entry: tuple[int, float, float], now: float) -> bool:
        return entry[0] <= self._position(now)[0] - 2


class Limiter(Protocol[K_contra]):
    """What ``rate_limit`` needs from a limiter whose keys are ``K_contra``.

    The limiters here answer at once; the Redis ones (``redis_rate_limiter``, str keys)
    return awaitables, which ``rate_limit`` awaits. ``validate_cost`` is always sync,
    so a bad cost fails at decoration time.
    """

    def validate_cost(self, cost: float) -> float: ...

    def allow(self, key: K_contra, cost: float = 1.0) -> bool | Awaitable[bool]: ...

    def retry_after(self, key: K_contra, cost: float = 1.0) -> float | Awaitable[float]: ...


class RateLimitExceeded(TooManyRequests):
    """The 429 raised by ``rate_limit``; ``retry_after`` is in whole seconds (at least 1)."""

    def __init__(self, retry_after: float) -> None:
        self.retry_after = max(1, math.ceil(retry_after))
        super().__init__(headers={"Retry-After": str(self.retry_after)})


def _client_ip(request: Any) -> str:
    return str(request.client_ip)


def rate_limit(
    limiter: Limiter[K], key: Callable[[Any], K] | None = None, cost: float = 1.0
) -> Callable[[F], F]:
    """Refuse calls to the decorated handler beyond ``limiter``'s limit with a 429.

    ``key(request)`` names whose budget a call spends (default: ``request.client_ip``);
    the limiter is the scope, so handlers sharing one limiter share budgets. Put it
    under the route decorator. The refusal raises ``RateLimitExceeded`` (a
    ``TooManyRequests``) carrying ``Retry-After``, so ``@app.error_handler(429)`` can
    render it. The handler's signature stays visible, so path and body parameters
    are still injected; its first positional argument must be the request. The
    limiter may be sync or async (Redis); the check runs on the event loop, then a
    sync handler runs in a thread, as it would undecorated.

    The check runs when the handler is called, after path conversion and body
    decoding: a request refused before (400, 413, 422) spends nothing, and a typed
    body has been read by then. To limit before the body is read, call the limiter
    from middleware or a ``before_request`` hook.

    >>> @app.get("/api/x")
    ... @rate_limit(TokenBucketLimiter(rate=5, capacity=10))
    ... async def handler(request): ...
    """
    limiter.validate_cost(cost)
    key_of: Callable[[Any], Any] = key or _client_ip

    async def enforce(request: Any) -> None:
        bucket = key_of(request)
        if not await resolved(limiter.allow(bucket, cost)):
            raise RateLimitExceeded(await resolved(limiter.retry_after(bucket, cost)))

    def decorate(handler: F) -> F:
        call: Callable[..., Awaitable[Any]] = (
            handler if is_async_callable(handler) else functools.partial(asyncio.to_thread, handler)
        )

        @functools.wraps(handler)
        async def limited(*args: Any, **kwargs: Any) -> Any:
            await enforce(args[0])
            return await call(*args, **kwargs)

        declare_components(limited, limiter)
        return cast(F, limited)

    return decorate
