"""Every page of the console renders, for a superuser and for ops, on the demo data."""

import pytest
from django.contrib import admin
from django.urls import reverse

from accounts.models import User
from portal.demo import seed_demo
from tests.admin.conftest import OPS_GROUP

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo() -> None:
    seed_demo()


def pages(client) -> list[tuple[str, int]]:
    seen = []
    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        changelist = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        response = client.get(changelist)
        seen.append((changelist, response.status_code))
        if response.status_code != 200:
            continue
        first = model_admin.get_queryset(response.wsgi_request).first()
        if first is not None:
            change = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[first.pk])
            seen.append((change, client.get(change).status_code))
    return seen


def test_every_page_renders_for_a_superuser(super_client, demo):
    assert [page for page in pages(super_client) if page[1] != 200] == []


def test_every_page_ops_may_see_renders_and_the_rest_is_forbidden(client, demo):
    ops = User.objects.get(email="ops@quaygate.example")
    assert ops.groups.filter(name=OPS_GROUP).exists()
    client.force_login(ops)
    results = dict(pages(client))
    assert {status for status in results.values()} <= {200, 403}
    allowed = {url for url, status in results.items() if status == 200}
    assert reverse("admin:tokens_personalaccesstoken_changelist") in allowed
    assert reverse("admin:tokens_auditevent_changelist") in allowed
    assert reverse("admin:portal_user_changelist") not in allowed
    assert reverse("admin:auth_group_changelist") not in allowed
