"""The app checks its own components' services at startup."""

from __future__ import annotations

import logging

import pytest
from redis.asyncio import Redis

from gobstopper import Blueprint, Gobstopper
from gobstopper.core.services import app_service_checks
from gobstopper.middleware.security import SecurityMiddleware
from gobstopper.service_checks import ServiceUnavailableError
from gobstopper.sessions.redis_storage import AsyncRedisSessionStorage
from gobstopper.tasks import TaskQueue
from gobstopper.tasks.redis_storage import RedisTaskStorage
from gobstopper.testing import TestClient
from gobstopper.utils.idempotency import use_idempotency
from gobstopper.utils.rate_limiter import rate_limit
from gobstopper.utils.redis_idempotency import RedisIdempotencyStore
from gobstopper.utils.redis_rate_limiter import RedisTokenBucketLimiter
from tests.servers import free_port


def redis_nowhere() -> Redis:
    return Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=0.2)


def test_an_unreachable_redis_behind_degradable_features_is_a_warning(caplog):
    client = redis_nowhere()
    address = f"redis://127.0.0.1:{client.connection_pool.connection_kwargs['port']}/0"
    app = Gobstopper(__name__)
    app.add_middleware(
        SecurityMiddleware(secret_key="k" * 32, session_storage=AsyncRedisSessionStorage(client))
    )
    api = Blueprint("api", __name__)

    @api.post("/pay")
    @rate_limit(RedisTokenBucketLimiter(client, rate=1, capacity=5, prefix="pay"))
    @use_idempotency(store=RedisIdempotencyStore(client))
    async def pay(request):
        return {"paid": True}

    app.register_blueprint(api, url_prefix="/api")
    assert len(app_service_checks(app)) == 3
    with caplog.at_level(logging.WARNING, logger="gobstopper.services"), TestClient(app):
        pass
    messages = [r.getMessage() for r in caplog.records if r.name == "gobstopper.services"]
    assert len(messages) == 3 and all(address in m for m in messages)
    assert any("Redis session storage" in m and "503" in m for m in messages)
    assert any("rate limit 'pay'" in m and "lets every call through" in m for m in messages)
    assert any("idempotency store" in m for m in messages)


def test_a_redis_task_backend_that_cannot_be_reached_fails_startup():
    app = Gobstopper(__name__)
    url = f"redis://127.0.0.1:{free_port()}/0"
    app.task_queue = TaskQueue(enabled=True, storage_factory=lambda: RedisTaskStorage(url))
    client = TestClient(app)
    with pytest.raises(ServiceUnavailableError, match="Redis task backend at redis://127"):
        client.__enter__()
    client.close()


def test_an_app_with_reachable_or_no_services_starts(redis_url):
    app = Gobstopper(__name__)
    app.task_queue = TaskQueue(enabled=True, storage_factory=lambda: RedisTaskStorage(redis_url))
    with TestClient(app):
        pass
    assert app_service_checks(Gobstopper(__name__)) == []
