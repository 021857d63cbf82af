import uuid
from collections.abc import Iterator

import pytest
import redis as redis_lib
from django.utils import timezone

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


@pytest.fixture
def now():
    """Half past an hour, so a test's rows fall in one hourly window either side of it."""
    return timezone.now().replace(minute=30, second=0, microsecond=0)


@pytest.fixture
def thresholds(settings):
    """thresholds(NAME=value, …) sets the anomaly rules' thresholds for this test."""

    def set_(**values):
        settings.QUAYGATE = {**settings.QUAYGATE, "ANOMALY": values}

    return set_
