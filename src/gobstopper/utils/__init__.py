"""Optional helpers: ``rate_limiter`` (token bucket, windowed counter, ``@rate_limit``)
and ``idempotency`` (``@use_idempotency``). Import the submodule you need; nothing
is loaded here.
"""
