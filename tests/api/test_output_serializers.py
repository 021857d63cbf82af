"""api.output: fields built once per class render exactly what DRF's per-instance ones do, and
a field that could read the serializer's context is refused rather than shared."""

from datetime import date

import pytest
from rest_framework import serializers

from api.output import FieldsOnceModelSerializer
from api.serializers import SpreaderOut, TerminalOut
from fleet.models import Spreader, Terminal
from tests.api.factories import make_spreader

pytestmark = pytest.mark.django_db


def _plain(serializer_class: type) -> type:
    """The same serializer as DRF builds it: declared fields copied per instance."""
    return type(
        f"Plain{serializer_class.__name__}",
        (serializers.ModelSerializer,),
        {**serializer_class._declared_fields, "Meta": serializer_class.Meta},
    )


def test_spreaders_render_as_drf_would(fleet):
    fresh = make_spreader(fleet.emx, "EMX-009", status=Spreader.Status.MAINTENANCE)
    fresh.commissioned_at = date(2024, 2, 29)
    spreaders = [*Spreader.objects.select_related("terminal"), fresh]

    assert SpreaderOut(spreaders, many=True).data == _plain(SpreaderOut)(spreaders, many=True).data
    assert SpreaderOut(fresh).data == _plain(SpreaderOut)(fresh).data
    assert SpreaderOut(fresh).data["status"] == "maintenance"


def test_a_missing_value_renders_as_none_as_drf_would(fleet):
    unsaved = Spreader(terminal=fleet.emx, serial_number="EMX-010", model=None)

    assert SpreaderOut(unsaved).data == _plain(SpreaderOut)(unsaved).data
    assert SpreaderOut(unsaved).data["model"] is None
    assert SpreaderOut(unsaved).data["commissioned_at"] is None


def test_terminals_render_as_drf_would(fleet):
    terminals = list(Terminal.objects.all())

    assert TerminalOut(terminals, many=True).data == _plain(TerminalOut)(terminals, many=True).data


def test_every_instance_shares_the_class_fields():
    assert SpreaderOut().fields is SpreaderOut().fields
    assert SpreaderOut().fields is not TerminalOut().fields


def test_a_subclass_builds_fields_of_its_own():
    class WithId(SpreaderOut):
        class Meta(SpreaderOut.Meta):
            fields = [*SpreaderOut.Meta.fields, "id"]

    assert "id" in WithId().fields
    assert "id" not in SpreaderOut().fields


def test_a_field_that_reads_the_serializer_is_refused():
    class Clever(FieldsOnceModelSerializer):
        label = serializers.SerializerMethodField()

        class Meta:
            model = Spreader
            fields = ["serial_number", "label"]

        def get_label(self, spreader: Spreader) -> str:
            return self.context["request"].path

    with pytest.raises(TypeError, match=r"Clever\.label is a SerializerMethodField"):
        Clever().to_representation(Spreader(serial_number="X"))
