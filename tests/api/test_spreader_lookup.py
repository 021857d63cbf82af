"""selectors.spreader_for runs the tenancy queryset compiled once per scope, with the serial
number swapped into its parameters, and builds the models from the row itself: it must see
exactly what the tenancy queryset sees, and return the same spreader and terminal the ORM
would."""

from dataclasses import dataclass
from datetime import date

import pytest
from django.forms.models import model_to_dict
from django.http import Http404

from fleet import selectors
from fleet.models import Spreader
from tests.api.factories import make_spreader, make_terminal

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class Scope:
    organization_id: int
    terminal_ids: frozenset[int] | None
    kind: str = "production"


@pytest.fixture
def scopes(fleet, org, other_org) -> list[Scope]:
    sandbox = make_terminal(org, "SBX", sandbox=True)
    make_spreader(sandbox, "SBX-001", status=Spreader.Status.RETIRED)
    make_spreader(fleet.emx, "EMX-002", commissioned_at=date(2024, 2, 29))
    return [
        Scope(org.id, None),
        Scope(org.id, frozenset({fleet.emx.id})),
        Scope(org.id, frozenset({fleet.emx.id, fleet.rwg.id})),
        Scope(org.id, frozenset({fleet.ant.id})),  # another organisation's terminal
        Scope(org.id, frozenset()),
        Scope(org.id, None, kind="sandbox"),
        Scope(org.id, frozenset({fleet.emx.id}), kind="sandbox"),
        Scope(other_org.id, None),
    ]


def _found(scope: Scope, serial: str) -> Spreader | None:
    try:
        return selectors.spreader_for(scope, serial)
    except Http404:
        return None


def test_it_finds_exactly_what_the_tenancy_queryset_sees(scopes):
    serials = [*Spreader.objects.values_list("serial_number", flat=True), "NOPE-001"]
    for scope in scopes:
        visible = set(selectors.spreaders_visible_to(scope).values_list("serial_number", flat=True))
        found = {serial for serial in serials if _found(scope, serial) is not None}
        assert found == visible, scope
    assert any(_found(scope, "SBX-001") for scope in scopes)  # the sandbox row is reachable


def test_it_returns_the_spreader_and_terminal_the_orm_would(scopes):
    for scope in scopes:
        for expected in selectors.spreaders_visible_to(scope):
            spreader = selectors.spreader_for(scope, expected.serial_number)
            assert model_to_dict(spreader) == model_to_dict(expected)
            assert model_to_dict(spreader.terminal) == model_to_dict(expected.terminal)
            assert spreader.pk == expected.pk and spreader.terminal.pk == expected.terminal.pk
            assert type(spreader.commissioned_at) is date  # converted on every backend
            assert spreader.terminal.sandbox is expected.terminal.sandbox
            assert not spreader._state.adding


def test_an_invisible_spreader_is_not_found(fleet, org):
    with pytest.raises(Http404):
        selectors.spreader_for(Scope(org.id, None), fleet.ant_spreader.serial_number)
