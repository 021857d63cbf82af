"""The Python client (clients/python) against the live test server: its package is put on the
path here, the API fixtures (fleet, tokens through the real services) come from tests/api."""

import sys
from pathlib import Path

import pytest

CLIENT_PATH = Path(__file__).resolve().parents[2] / "clients" / "python"
if str(CLIENT_PATH) not in sys.path:
    sys.path.insert(0, str(CLIENT_PATH))

from tests.api.conftest import (  # noqa: E402
    _fresh_counters,  # noqa: F401
    fleet,  # noqa: F401
    issue,  # noqa: F401
)


@pytest.fixture
def connect(live_server):
    """connect(secret, **options) -> a quaygate.Client for the live server."""
    from quaygate import Client

    clients = []

    def _connect(secret, **options):
        client = Client(live_server.url, secret, **options)
        clients.append(client)
        return client

    yield _connect
    for client in clients:
        client.close()
