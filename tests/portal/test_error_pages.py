"""The portal's own error pages: a helpful sentence, never Django's bare or debug pages."""

from django.test import Client

from tests.conftest import PASSWORD


def test_a_missing_page_says_what_may_have_happened(client, owner):
    client.login(email=owner.email, password=PASSWORD)
    response = client.get("/tokens/999999/")
    assert response.status_code == 404
    assert b"not yours to see" in response.content
    assert b"Back to your tokens" in response.content


def test_a_form_without_its_csrf_token_explains_itself(owner):
    client = Client(enforce_csrf_checks=True)
    client.login(email=owner.email, password=PASSWORD)
    response = client.post("/tokens/new/", {"name": "x"})
    assert response.status_code == 403
    assert b"could not be accepted" in response.content
    assert b"was changed" in response.content


def test_the_server_error_page_renders_without_a_request():
    from django.template.loader import render_to_string

    html = render_to_string("500.html")  # Django renders it with no context at all
    assert "Something went wrong on our side" in html and "<script" not in html
