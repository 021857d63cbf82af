import uuid
from collections.abc import Iterator

import pytest
import redis as redis_lib

from tests.conftest import require
from tests.telemetry.factories import make_token


@pytest.fixture(autouse=True)
def _redis_not_marked_down(monkeypatch) -> None:
    monkeypatch.setattr("telemetry.usage._redis_down_until", 0.0)


@pytest.fixture
def no_redis(settings) -> None:
    settings.REDIS_URL = ""


@pytest.fixture
def stream(settings) -> Iterator[redis_lib.Redis]:
    """A real Redis with a usage stream of this test's own."""
    url = settings.REDIS_URL
    require(bool(url), "REDIS_URL is not set")
    client = redis_lib.Redis.from_url(url)
    try:
        client.ping()
    except redis_lib.RedisError:
        require(False, f"Redis at {url} is not reachable")
    key = f"test:usage:{uuid.uuid4().hex}"
    settings.QUAYGATE = {**settings.QUAYGATE, "USAGE_STREAM_KEY": key}
    yield client
    client.delete(key)


@pytest.fixture
def token(owner, org):
    return make_token(owner, org)
