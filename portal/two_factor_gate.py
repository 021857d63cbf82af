"""An organisation that requires 2FA lets a member without it do nothing but enrol.

Views that open an organisation's pages or tokens call `check(request, organization)`; the
refusal is one page (403) that says why and links to the Security page, rendered by
TwoFactorGateMiddleware wherever the check is made. It costs no query: the organisation is
already loaded with the membership or the token, the flag with the user.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.models import Organization


class TwoFactorRequired(Exception):
    def __init__(self, organization: Organization) -> None:
        super().__init__(organization.name)
        self.organization = organization


def blocks(user, organization: Organization) -> bool:
    return organization.two_factor_required_at is not None and not getattr(
        user, "two_factor_enabled", False
    )


def check(request: HttpRequest, organization: Organization) -> None:
    if blocks(request.user, organization):
        raise TwoFactorRequired(organization)


class TwoFactorGateMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, TwoFactorRequired):
            return None
        organization = exception.organization
        context = {"organization": organization, "organizations": [organization]}
        return render(request, "portal/two_factor_required.html", context, status=403)
