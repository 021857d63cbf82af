"""Output serializers whose fields are built once per class, not once per instance.

DRF builds a serializer's fields on each instance: it deep-copies the declared ones and, for a
ModelSerializer, rebuilds the rest from the model's metadata. For SpreaderOut that was ~0.3 ms
of a ~3.5 ms GET /api/v1/spreaders/{serial} (issue 22's profile), paid again on every request.
An output field whose result depends only on the value it reads (a CharField, a DateField…)
can be shared by every instance, so these are built once, on a prototype, and reused.

A field that reads its serializer's context or calls a method on it (SerializerMethodField,
hyperlinked or nested serializers) would see the prototype's instead of the caller's: those
are refused when the class is first used, not rendered wrongly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from rest_framework import serializers
from rest_framework.fields import SkipField
from rest_framework.utils.serializer_helpers import BindingDict

# Fields whose output is a function of the value alone (the request and context never read);
# exact types: a subclass of ours may do more.
CONTEXT_FREE_FIELDS = (
    serializers.BigIntegerField,
    serializers.BooleanField,
    serializers.CharField,
    serializers.ChoiceField,
    serializers.DateField,
    serializers.DateTimeField,
    serializers.DecimalField,
    serializers.FloatField,
    serializers.IntegerField,
    serializers.UUIDField,
)


# No docstring: drf-spectacular would publish it as every subclass's schema description.
class FieldsOnceModelSerializer(serializers.ModelSerializer):
    _shared_fields: ClassVar[BindingDict | None] = None
    # (name, get_attribute, to_representation) of each readable field, in order.
    _readable: ClassVar[tuple[tuple[str, Callable, Callable], ...]] = ()

    @property
    def fields(self) -> BindingDict:
        cls = type(self)
        # Looked up on the class itself: a subclass builds its own, never its parent's.
        shared = cls.__dict__.get("_shared_fields")
        if shared is None:
            shared = cls._build_shared_fields()
            cls._readable = tuple(
                (name, field.get_attribute, field.to_representation)
                for name, field in shared.items()
                if not field.write_only
            )
            cls._shared_fields = shared
        return shared

    def to_representation(self, instance: Any) -> dict[str, Any]:
        """DRF's loop over the readable fields, without rebuilding the list for each row (half
        the cost of a 50-row page). No PKOnlyObject check: only related fields make those."""
        self.fields  # noqa: B018 (builds the class's fields and _readable on first use)
        representation = {}
        for name, get_attribute, represent in type(self)._readable:
            try:
                attribute = get_attribute(instance)
            except SkipField:
                continue
            representation[name] = None if attribute is None else represent(attribute)
        return representation

    @classmethod
    def _build_shared_fields(cls) -> BindingDict:
        prototype = cls()
        shared = BindingDict(prototype)
        for name, field in prototype.get_fields().items():
            if type(field) not in CONTEXT_FREE_FIELDS:
                raise TypeError(
                    f"{cls.__name__}.{name} is a {type(field).__name__}, which may read its "
                    "serializer's context: use a plain ModelSerializer for it"
                )
            shared[name] = field
        return shared
