"""An API request leaves none of DRF's objects for the cyclic garbage collector.

DRF's view, Request and Response refer to one another; ApiView lets go of those references
once the body is rendered (api.views.base.ApiView._release), so refcounting frees them when
the request ends instead of the collector's young-generation passes, which cost every request.
Through the WSGI handler as gunicorn calls it: the test client keeps its own references to a
response (and a cycle of its own: `response.json`).
"""

import gc

import pytest
from django.core.handlers.wsgi import WSGIHandler
from rest_framework.request import Request
from rest_framework.response import Response

from tests.support.wsgi import call, get_environ

pytestmark = pytest.mark.usefixtures("wsgi_keeps_the_test_connection")


def serve(handler: WSGIHandler, path: str, secret: str) -> str:
    statuses = []
    call(
        handler,
        get_environ(path, f"Bearer {secret}", host="testserver"),
        lambda status, *_: statuses.append(status),
    )
    return statuses[0]


def cyclic_garbage_of(serve_once) -> list:
    """The objects only the cyclic collector would free after `serve_once()`."""
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        serve_once()
        gc.collect()
        return list(gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()


def drf_objects_in(garbage: list) -> list[str]:
    return [type(o).__name__ for o in garbage if isinstance(o, Request | Response)]


@pytest.mark.parametrize(
    "path",
    ["/api/v1/token", "/api/v1/spreaders", "/api/v1/spreaders/NOPE", "/api/v1/changelog"],
)
def test_an_api_request_leaves_no_drf_object_in_a_cycle(fleet, issue, owner, path):
    handler, secret = WSGIHandler(), issue(owner).secret
    serve(handler, path, secret)  # warm: imports, caches, the token in memory

    statuses = []
    garbage = cyclic_garbage_of(lambda: statuses.append(serve(handler, path, secret)))

    assert statuses[0].split()[0] == ("404" if path.endswith("NOPE") else "200")
    assert drf_objects_in(garbage) == []


def test_a_refused_token_leaves_no_drf_object_in_a_cycle(fleet, db):
    handler = WSGIHandler()
    wrong = "qgp_" + "A" * 36
    serve(handler, "/api/v1/token", wrong)

    garbage = cyclic_garbage_of(lambda: serve(handler, "/api/v1/token", wrong))

    assert drf_objects_in(garbage) == []
