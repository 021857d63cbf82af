"""Schemathesis against our own OpenAPI schema, in-process through the WSGI app.

Every operation gets a bounded number of generated requests (valid and invalid) with a real
token; every answer must be schema-conformant and none may be a 500. The examples of an
operation share one token, except those of the two operations that change the calling token
(revoke it, rotate its secret): each of those gets a fresh one, so an example cannot starve the
ones after it. So does an example whose Idempotency-Key the shared token already sent: a key is
the token's, and reusing it for another request is rightly a 422 (tests/api/test_idempotency.py),
not a valid request rejected. Minting a token per example had been half of this file's time.

The schema is loaded when the module is collected (schemathesis' lazy `from_fixture` loader
does not run on pytest 9); serving it touches no database.
"""

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from hypothesis import HealthCheck, settings

EXAMPLES_PER_OPERATION = 30

schema = schemathesis.openapi.from_wsgi("/api/schema/", WSGIHandler())


pytestmark = pytest.mark.usefixtures("wsgi_keeps_the_test_connection")


# (method, path) of the operations that revoke or rotate the calling token.
CHANGES_ITS_TOKEN = {("DELETE", "/api/v1/token"), ("POST", "/api/v1/token/rotate")}


@pytest.fixture
def secret_for(new_secret):
    """secret_for(case): the operation's shared token, or a fresh one where the call may end it.

    Function-scoped: hypothesis runs an operation's examples in one test call, so they share it;
    each operation (a test of its own) mints its own."""
    shared: list[str] = []
    keys_sent: set[str] = set()

    def _secret_for(case) -> str:
        if (case.operation.method.upper(), case.operation.path) in CHANGES_ITS_TOKEN:
            return new_secret()
        key = (case.headers or {}).get("Idempotency-Key")
        if key is not None and key in keys_sent:
            return new_secret()
        if key is not None:
            keys_sent.add(key)
        if not shared:
            shared.append(new_secret())
        return shared[0]

    return _secret_for


def test_the_operations_that_change_their_token_are_in_the_schema():
    """CHANGES_ITS_TOKEN must name real operations, or a renamed path would silently share a
    token that its own examples revoke."""
    operations = {
        (result.ok().method.upper(), result.ok().path) for result in schema.get_all_operations()
    }
    assert operations >= CHANGES_ITS_TOKEN


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,  # CI runs the same examples every time; a failure reproduces
)
def test_every_operation_answers_within_its_schema_and_never_500(case, fleet, secret_for):
    if case.query:
        # No generated cursors: a cursor is opaque, so a schema cannot say which strings are
        # valid and a 400 for a made-up one would count as a rejected valid request. Cursors
        # get their own property test (test_property_inputs.py), with well-formed ones too.
        case.query.pop("cursor", None)
    case.call_and_validate(headers={"Authorization": f"Bearer {secret_for(case)}"})
