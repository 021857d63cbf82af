"""A stand-in partner API for the middleware tests: views that set what authentication sets."""

from dataclasses import dataclass

from django.http import HttpResponse, JsonResponse, StreamingHttpResponse
from django.urls import path


@dataclass(frozen=True)
class FakeAuthenticatedToken:
    id: int
    organization_id: int
    display_prefix: str


def spreader(request, serial: str):
    token_id = request.headers.get("X-Test-Token-Id")
    if token_id:
        request.qg_token = FakeAuthenticatedToken(
            id=int(token_id),
            organization_id=int(request.headers["X-Test-Org-Id"]),
            display_prefix=request.headers["X-Test-Prefix"],
        )
        return JsonResponse({"serial": serial})
    request.qg_auth_failure = {
        "reason": request.headers.get("X-Test-Failure", "unknown_token"),
        "token_prefix": request.headers.get("X-Test-Prefix", ""),
    }
    return JsonResponse({"detail": "nope"}, status=401)


def stream(request):
    return StreamingHttpResponse(iter([b"a", b"b"]))


def portal_page(request):
    return HttpResponse("portal")


urlpatterns = [
    path("api/v1/spreaders/<str:serial>", spreader),
    path("api/v1/stream", stream),
    path("dashboard", portal_page),
]
