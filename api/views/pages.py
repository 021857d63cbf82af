"""Server-rendered documentation: the getting-started guide, the changelog and the API reference
pages.

The reference pages (Swagger UI, ReDoc) use our own templates: drf-spectacular's load Google
Fonts and run inline scripts, which would break "works with the network cut off" and our
Content-Security-Policy. Scripts and styles all come from our static files (sidecar bundles).
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.decorators import method_decorator
from django.views.decorators.csp import csp_override
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerSplitView

from api.pagination import DEFAULT_LIMIT, MAX_LIMIT
from api.parsers import MAX_BODY_BYTES
from api.problems import PROBLEM_TYPES, type_uri
from changelog import entries as changelog_entries
from changelog.operations import operations
from fleet import readings
from tokens import format as token_format
from tokens.scopes import DESCRIPTIONS
from webhooks.catalogue import EVENT_TYPES
from webhooks.signing import TOLERANCE_SECONDS

# What the guide shows secret scanners, from the files the test suite checks (one copy each).
SCANNING_DOCS = settings.BASE_DIR / "docs" / "secret-scanning"
_BODY = f"[0-9A-Za-z]{{{token_format.BODY_LENGTH + token_format.CHECKSUM_LENGTH}}}"
TOKEN_PATTERNS = {
    "qgp": f"{token_format.PREFIX}{_BODY}",
    "qgs": f"qgs_{_BODY}",
    "family": f"qg[ps]_{_BODY}",
    "in_text": rf"\bqg[ps]_{_BODY}\b",
}

# The webhook verification snippets, from the files the test receiver runs (one copy each).
WEBHOOK_DOCS = settings.BASE_DIR / "docs" / "webhooks"


def webhooks_guide(request: HttpRequest) -> HttpResponse:
    context = {
        "event_types": EVENT_TYPES,
        "tolerance_minutes": TOLERANCE_SECONDS // 60,
        "verify_python": (WEBHOOK_DOCS / "verify.py").read_text(),
        "verify_node": (WEBHOOK_DOCS / "verify.js").read_text(),
    }
    return render(request, "api/webhooks.html", context)


# ReDoc styles itself by injecting <style> elements (styled-components) and searches in a blob:
# worker; both need this one page's policy to be looser than the site's.
REDOC_CSP = {
    **settings.SECURE_CSP,
    "style-src": [*settings.SECURE_CSP.get("style-src", []), "'unsafe-inline'"],
    "worker-src": ["'self'", "blob:"],
}


def getting_started(request: HttpRequest) -> HttpResponse:
    base = request.build_absolute_uri("/").rstrip("/")
    problems = [
        {
            "code": code,
            "anchor": type_uri(code).split("#", 1)[1],
            "status": kind.status,
            "title": kind.title,
            "when": kind.when,
        }
        for code, kind in PROBLEM_TYPES.items()
    ]
    return render(
        request,
        "api/getting_started.html",
        {
            "base_url": base,
            "scopes": sorted(DESCRIPTIONS.items()),
            "problems": problems,
            "default_limit": DEFAULT_LIMIT,
            "max_limit": MAX_LIMIT,
            "max_points": readings.MAX_POINTS,
            "max_body_kib": MAX_BODY_BYTES // 1024,
            "default_rate": settings.QUAYGATE["DEFAULT_RATE_LIMIT_PER_HOUR"],
            "patterns": TOKEN_PATTERNS,
            "checker_source": (SCANNING_DOCS / "check_token.py").read_text(),
            "gitleaks_rule": (SCANNING_DOCS / "gitleaks.toml").read_text(),
        },
    )


class SwaggerView(SpectacularSwaggerSplitView):
    """Swagger UI; its init script is served as a separate file (?script), CSP-friendly."""

    template_name = "api/swagger_ui.html"


@method_decorator(csp_override(REDOC_CSP), name="dispatch")
class RedocView(SpectacularRedocView):
    template_name = "api/redoc.html"


def changelog(request: HttpRequest) -> HttpResponse:
    """The changelog page: the versioning policy, then every release, newest first."""
    known = operations()
    releases = [
        {
            "release": release,
            "entries": [
                {"entry": entry, "operations": [known.get(op) for op in entry.operations]}
                for entry in release.entries
            ],
        }
        for release in changelog_entries.releases()
    ]
    return render(
        request,
        "api/changelog.html",
        {"releases": releases, "min_notice_days": changelog_entries.MIN_NOTICE.days},
    )
