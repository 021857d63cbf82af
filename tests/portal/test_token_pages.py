"""What holds on every token page: each form carries a CSRF token, and the pages carry CSP and
frame protection with no inline script or style. Each operation has its own file:
test_dashboard, test_create_token, test_token_detail, test_rename_token,
test_regenerate_token, test_revoke_token."""

import re

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_every_form_on_the_token_pages_carries_a_csrf_token(client, owner, org, sign_in, issue):
    token = issue(owner, org).token
    sign_in(client, owner)
    for url in (
        reverse("token_new"),
        reverse("token_detail", args=[token.pk]),
        reverse("token_regenerate", args=[token.pk]),
        reverse("token_revoke", args=[token.pk]),
    ):
        html = client.get(url).content.decode()
        posts = len(re.findall(r'<form method="post"', html))
        assert posts and html.count("csrfmiddlewaretoken") == posts, url


def test_pages_carry_csp_and_frame_protection_and_no_inline_script_or_style(
    client, owner, org, sign_in, issue
):
    token = issue(owner, org).token
    sign_in(client, owner)
    for url in (
        reverse("dashboard"),
        reverse("token_new"),
        reverse("token_detail", args=[token.pk]),
    ):
        response = client.get(url)
        html = response.content.decode()
        assert "script-src 'self'" in response["Content-Security-Policy"]
        assert response["X-Frame-Options"] == "DENY"
        assert "<style" not in html and " style=" not in html
        assert not re.search(r"<script(?![^>]*\bsrc=)", html)
