"""Fixtures for the ops console: an ops user in the Ops group, a superuser, tokens issued
through the real service, and a helper that turns an admin form page back into POST data."""

from collections.abc import Callable

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from accounts.models import User
from tests.conftest import make_user
from tokens import services as token_services
from tokens.actors import Actor
from tokens.models import PersonalAccessToken

OPS_GROUP = "Ops"


@pytest.fixture
def ops(ops_user) -> User:
    """Staff, not superuser, in the Ops group (created by portal/migrations/0002_ops_group)."""
    ops_user.groups.add(Group.objects.get(name=OPS_GROUP))
    return ops_user


@pytest.fixture
def ops_client(ops) -> Client:
    client = Client(HTTP_USER_AGENT="ops-browser/1.0")
    client.force_login(ops)
    return client


@pytest.fixture
def superuser(db) -> User:
    return make_user("root@quaygate.example", is_staff=True, is_superuser=True)


@pytest.fixture
def super_client(superuser) -> Client:
    client = Client()
    client.force_login(superuser)
    return client


@pytest.fixture
def issue(owner, org) -> Callable[..., PersonalAccessToken]:
    """Issue a token for `owner` in `org` the way the portal does."""

    def issue(name: str = "ci deploy", scopes=("fleet:read",), **fields) -> PersonalAccessToken:
        return token_services.issue_token(
            owner=fields.pop("owner", owner),
            organization=fields.pop("organization", org),
            name=name,
            scopes=list(scopes),
            actor=Actor.system("tests"),
            **fields,
        ).token

    return issue


def form_data(response) -> dict:
    """The POST data of an admin change form as rendered: the main form's and each inline
    formset's current values, management forms included. Tests change one value and post."""
    data: dict = {}

    def add(form) -> None:
        for name, field in form.fields.items():
            value = form[name].value()
            if value is None or value is False:
                continue  # an unchecked box or an empty value is simply not posted
            value = field.prepare_value(value)
            if isinstance(value, (list, tuple)):
                data[form.add_prefix(name)] = [str(item) for item in value]
            else:
                data[form.add_prefix(name)] = "on" if value is True else str(value)

    add(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        for name, value in formset.management_form.initial.items():
            data[formset.management_form.add_prefix(name)] = value
        for form in formset.forms:
            add(form)
    return data
