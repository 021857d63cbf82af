"""The API fixtures (a fleet, tokens issued through the services, a Bearer client), and a
view of the per-request metrics as this process counts them."""

from collections.abc import Callable, Iterator

import pytest
from prometheus_client import REGISTRY

from observability import metrics, snapshot
from tests.api.conftest import (  # noqa: F401 (fixtures)
    _fresh_counters,
    api_client,
    committed,
    fleet,
    issue,
    issued,
    partner,
)


@pytest.fixture(autouse=True)
def _no_snapshot_kept() -> Iterator[None]:
    """Each test's scrape works out its own snapshot (the cache is cleared after each test)."""
    snapshot._local.clear()
    yield
    snapshot._local.clear()


@pytest.fixture
def sample() -> Callable[..., float]:
    """sample("quaygate_api_requests_total", route=…, …) -> its value now (0 when unseen)."""

    def _sample(name: str, **labels: str) -> float:
        metrics.flush()  # what requests observed, without waiting for the flush thread
        return REGISTRY.get_sample_value(name, labels) or 0.0

    return _sample
