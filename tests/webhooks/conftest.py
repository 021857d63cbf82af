"""Webhook fixtures: an endpoint made through the real service, with its secret, pointed at a
real loopback receiver (tests.support.receiver)."""

from collections.abc import Callable, Iterator

import pytest

from tests.support.receiver import Receiver
from tokens.actors import Actor
from webhooks import services


@pytest.fixture
def make_endpoint(org_admin) -> Callable:
    def make(organization, url: str, event_types=("audit.*",)):
        return services.create_endpoint(
            organization,
            url=url,
            event_types=list(event_types),
            actor=Actor.for_user(org_admin),
        )

    return make


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as started:
        yield started


@pytest.fixture
def hooked(org, receiver, make_endpoint):
    """(endpoint, receiver): the org's endpoint for every event, the receiver knowing its secret."""
    endpoint, secret = make_endpoint(org, receiver.url)
    receiver.secret = secret
    return endpoint, receiver
