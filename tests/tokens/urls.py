"""A stand-in partner API for the authentication tests: two tiny views behind the real classes."""

from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView

from tokens.authentication import PersonalAccessTokenAuthentication, token_response_headers
from tokens.permissions import HasScope


class Probe(APIView):
    authentication_classes = [PersonalAccessTokenAuthentication]
    permission_classes = [HasScope]
    required_scopes = {"GET": "fleet:read", "POST": "alarms:write"}

    def get(self, request):
        state = request.auth
        return Response({"token": state.id, "owner": request.user.id})

    def post(self, request):
        return Response({"ok": True})

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        for name, value in token_response_headers(request).items():
            response[name] = value
        return response


class AnyToken(Probe):
    required_scopes = None


urlpatterns = [
    path("api/v1/probe", Probe.as_view()),
    path("api/v1/any", AnyToken.as_view()),
]
