import uuid
from collections.abc import Iterator

import pytest
import redis as redis_lib

from tests.telemetry.factories import make_token


@pytest.fixture
def stream(redis_client, settings) -> Iterator[redis_lib.Redis]:
    """A real Redis with a usage stream of this test's own."""
    key = f"test:usage:{uuid.uuid4().hex}"
    settings.QUAYGATE = {**settings.QUAYGATE, "USAGE_STREAM_KEY": key}
    yield redis_client
    redis_client.delete(key)


@pytest.fixture
def token(owner, org):
    return make_token(owner, org)
