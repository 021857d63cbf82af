"""The two reference points of the throughput benchmark.

ceiling: the cheapest DRF endpoint there is, no authentication, a small JSON body: what the
stack (gunicorn, Django middleware, DRF's request/response cycle) costs by itself.
baseline: the same view behind DRF's built-in TokenAuthentication (one ORM lookup per
request), which is what most Django APIs do.
peers: the same view behind the two token libraries a Django team would otherwise pick:
django-rest-knox (SHA-512 digests looked up by a 15-character key) and
djangorestframework-api-key (a prefix lookup, then a SHA-512 check, as a permission class).
"""

from knox.auth import TokenAuthentication as KnoxTokenAuthentication
from rest_framework.authentication import TokenAuthentication
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_api_key.permissions import HasAPIKey

BODY = {"status": "ok", "service": "quaygate", "version": "1"}


class CeilingView(APIView):
    authentication_classes = []
    permission_classes = []

    def get(self, request: Request) -> Response:
        return Response(BODY)


class BaselineView(CeilingView):
    authentication_classes = [TokenAuthentication]
    permission_classes = [IsAuthenticated]


class KnoxView(CeilingView):
    authentication_classes = [KnoxTokenAuthentication]
    permission_classes = [IsAuthenticated]


class ApiKeyView(CeilingView):
    permission_classes = [HasAPIKey]
