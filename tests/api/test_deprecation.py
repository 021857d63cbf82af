"""Announcing deprecation: a view that declares it sends Deprecation, Sunset and Link on every
response, errors included; the others send none."""

from datetime import UTC, datetime

import pytest
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory

from api.views.base import ApiView

pytestmark = pytest.mark.django_db


class RetiringView(ApiView):
    required_scope = "fleet:read"
    deprecated_on = datetime(2027, 1, 1, tzinfo=UTC)
    sunset_on = datetime(2027, 7, 1, tzinfo=UTC)
    deprecation_link = "/api/getting-started/#deprecation"

    def get(self, request):
        return Response({"ok": True})


def call(secret: str | None):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {secret}"} if secret else {}
    request = APIRequestFactory().get("/api/v1/retiring", **headers)
    return RetiringView.as_view()(request)


def test_a_deprecated_operation_says_so_and_when_it_ends(issued):
    response = call(issued.secret)

    assert response.status_code == 200
    assert response["Deprecation"] == "@1798761600"
    assert response["Sunset"] == "Thu, 01 Jul 2027 00:00:00 GMT"
    assert response["Link"] == '</api/getting-started/#deprecation>; rel="deprecation"'


def test_its_errors_say_so_too(db):
    response = call(None)

    assert response.status_code == 401
    assert response["Deprecation"] == "@1798761600"
    assert "Sunset" in response


def test_current_operations_send_no_deprecation_headers(fleet, partner):
    response = partner.get("/api/v1/spreaders")

    assert "Deprecation" not in response
    assert "Sunset" not in response
