"""Input serializers (query strings and bodies) and output serializers of the partner API.

Inputs are strict: an unknown field or query parameter is a 400 that names it (a typo such as
`?statuss=retired` must not silently return everything), text refuses lone surrogates and
control characters (PostgreSQL would refuse them later, as a 500).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.output import FieldsOnceModelSerializer
from api.pagination import CURSOR_PARAM, LIMIT_PARAM
from changelog.entries import KINDS as CHANGE_KINDS
from fleet import readings
from fleet.models import Alarm, MaintenanceRecord, Spreader, Terminal

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CONTROL_ONE_LINE = re.compile(r"[\x00-\x1f\x7f]")


# --- fields -------------------------------------------------------------------------------------


class TextField(serializers.CharField):
    """A CharField that refuses what no database or person wants: lone surrogates (unencodable
    as UTF-8) and control characters (newlines and tabs only where `multiline`)."""

    def __init__(self, *, multiline: bool = False, **kwargs: Any) -> None:
        self.multiline = multiline
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            # DRF's CharField would turn 12 or true into "12" / "True": say it is not text.
            self.fail("invalid")
        value = super().to_internal_value(data)
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise serializers.ValidationError(
                "This text contains an invalid character (a lone UTF-16 surrogate).",
                code="invalid_text",
            ) from None
        pattern = _CONTROL if self.multiline else _CONTROL_ONE_LINE
        if pattern.search(value):
            raise serializers.ValidationError(
                "This text contains a control character.", code="invalid_text"
            )
        return value


class TimeZoneField(TextField):
    """`utc`, `terminal` or an IANA zone name this server knows (the schema lists them all)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 64)
        super().__init__(**kwargs)

    @staticmethod
    def choices() -> list[str]:
        return [readings.TZ_UTC, readings.TZ_TERMINAL, *sorted(readings.zone_names())]

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        if value != readings.TZ_TERMINAL and readings.zone_named(value) is None:
            raise serializers.ValidationError(readings.UNKNOWN_ZONE, code="unknown_time_zone")
        return value


class NumberField(serializers.FloatField):
    """A JSON number (or numeric string): DRF's FloatField would take `true` as 1.0."""

    def to_internal_value(self, data: Any) -> float:
        if isinstance(data, bool):
            self.fail("invalid")
        return super().to_internal_value(data)


class MomentField(serializers.DateTimeField):
    """An ISO 8601 moment (a string; a bare number is not one). Without an offset it is UTC."""

    def to_internal_value(self, value: Any) -> datetime:
        if not isinstance(value, str):
            self.fail("invalid", format="ISO 8601, e.g. 2026-05-01T12:00:00Z")
        return super().to_internal_value(value)


class ChoicesField(serializers.Field):
    """Several choices, from a repeated parameter (?status=a&status=b) or a comma list (a,b)."""

    default_error_messages = {
        "invalid_choice": "Unknown value(s): {values}. Use any of: {choices}.",
        "too_many": "Give at most {limit} values.",
    }

    MAX_VALUES = 20

    def __init__(self, *, choices: Iterable[str], **kwargs: Any) -> None:
        self.choices = tuple(choices)
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def get_value(self, dictionary: Any) -> Any:
        if hasattr(dictionary, "getlist"):
            values = dictionary.getlist(self.field_name)
            return values if values else serializers.empty
        return dictionary.get(self.field_name, serializers.empty)

    def to_internal_value(self, data: Any) -> list[str]:
        raw = data if isinstance(data, list) else [data]
        values = []
        for item in raw:
            if not isinstance(item, str):
                self.fail("invalid_choice", values=item, choices=", ".join(self.choices))
            values.extend(part.strip() for part in item.split(",") if part.strip())
        if len(values) > self.MAX_VALUES:
            self.fail("too_many", limit=self.MAX_VALUES)
        unknown = [value for value in values if value not in self.choices]
        if unknown:
            self.fail(
                "invalid_choice", values=", ".join(unknown[:5]), choices=", ".join(self.choices)
            )
        return list(dict.fromkeys(values))

    def to_representation(self, value: Any) -> Any:
        return value


# --- strict serializers -------------------------------------------------------------------------


class StrictSerializer(serializers.Serializer):
    """Refuses fields it does not know, naming each one."""

    allowed_extra: tuple[str, ...] = ()

    def to_internal_value(self, data: Any) -> Any:
        if hasattr(data, "keys"):
            known = set(self.fields) | set(self.allowed_extra)
            unknown = sorted(str(key) for key in data if key not in known)
            if unknown:
                raise _field_errors(
                    unknown,
                    "Unknown field. Check the spelling against the API reference.",
                    code="unknown_field",
                )
        return super().to_internal_value(data)


def _field_errors(keys: list[str], message: str, *, code: str) -> serializers.ValidationError:
    """One error per offending field, names and count bounded: they are the caller's input."""
    return serializers.ValidationError(
        {key[:100]: [serializers.ErrorDetail(message, code=code)] for key in keys[:20]}
    )


class QueryStringSerializer(StrictSerializer):
    """A query string. `?until=` is refused rather than read as "no until": an empty filter
    that silently widened the answer would hide the caller's bug."""

    def to_internal_value(self, data: Any) -> Any:
        if hasattr(data, "lists"):
            empty = sorted(
                key for key, values in data.lists() if key != CURSOR_PARAM and "" in values
            )
            if empty:
                raise _field_errors(
                    empty, "Empty value. Give a value or leave the parameter out.", code="blank"
                )
        return super().to_internal_value(data)


class QuerySerializer(QueryStringSerializer):
    """Query string of a list endpoint: its filters plus the pagination parameters."""

    allowed_extra = (CURSOR_PARAM, LIMIT_PARAM)


class TerminalQuery(QuerySerializer):
    """No filters: an organisation has a handful of terminals."""


class SpreaderQuery(QuerySerializer):
    # Ties (same date, same model) in serial order; `id` last, so the order is total.
    ORDERINGS = {
        "serial_number": ("serial_number", "id"),
        "-serial_number": ("-serial_number", "-id"),
        "commissioned_at": ("commissioned_at", "serial_number", "id"),
        "-commissioned_at": ("-commissioned_at", "serial_number", "id"),
        "model": ("model", "serial_number", "id"),
        "-model": ("-model", "serial_number", "id"),
    }

    terminal = TextField(required=False, max_length=16, help_text="A terminal code.")
    status = ChoicesField(
        choices=Spreader.Status.values, help_text="One or more statuses (comma-separated)."
    )
    model = TextField(required=False, max_length=64, help_text="The spreader model, exactly.")
    ordering = serializers.ChoiceField(
        choices=list(ORDERINGS), required=False, default="serial_number"
    )


class AlarmQuery(QuerySerializer):
    spreader = TextField(required=False, max_length=32, help_text="A spreader's serial number.")
    state = serializers.ChoiceField(
        choices=["active", "cleared"],
        required=False,
        help_text="active: not cleared yet; cleared: cleared.",
    )
    severity = ChoicesField(
        choices=Alarm.Severity.values, help_text="One or more severities (comma-separated)."
    )
    acknowledged = serializers.BooleanField(required=False, allow_null=True, default=None)
    since = MomentField(required=False, help_text="Raised at or after this moment.")
    until = MomentField(required=False, help_text="Raised before this moment.")


class MaintenanceQuery(QuerySerializer):
    spreader = TextField(required=False, max_length=32, help_text="A spreader's serial number.")
    kind = ChoicesField(
        choices=MaintenanceRecord.Kind.values, help_text="One or more kinds (comma-separated)."
    )
    since = MomentField(required=False, help_text="Performed at or after this moment.")
    until = MomentField(required=False, help_text="Performed before this moment.")


class TelemetryQuery(QueryStringSerializer):
    metrics = ChoicesField(
        choices=readings.METRICS, help_text="Metrics to return (comma-separated); default all."
    )
    since = MomentField(
        required=False, help_text="Window start (inclusive). Default: 24 hours before `until`."
    )
    until = MomentField(required=False, help_text="Window end (exclusive). Default: now.")
    resolution = serializers.ChoiceField(
        choices=[r.value for r in readings.Resolution],
        required=False,
        default=readings.Resolution.HOUR.value,
        help_text="raw: every reading; hour / day: buckets with min, avg and max.",
    )
    tz = TimeZoneField(
        required=False,
        default=readings.TZ_UTC,
        help_text="The time zone of the buckets and of the times in the answer: `utc` "
        "(default), `terminal` (the spreader's terminal's zone) or an IANA name such as "
        "`Europe/Amsterdam`. Daily buckets start at local midnight.",
    )


class RotateInput(StrictSerializer):
    overlap_hours = serializers.IntegerField(
        min_value=0,
        max_value=24,
        default=0,
        help_text="Hours the old secret keeps working (0 to 24). Default 0: it stops at once.",
    )


class LeakReportInput(StrictSerializer):
    credentials = serializers.ListField(
        child=TextField(max_length=200, trim_whitespace=True),
        min_length=1,
        max_length=100,
        help_text="The token strings found (qgp_…), up to 100.",
    )


class MaintenanceInput(StrictSerializer):
    performed_at = MomentField(help_text="When the work was done (ISO 8601).")
    kind = serializers.ChoiceField(choices=MaintenanceRecord.Kind.choices)
    description = TextField(multiline=True, max_length=4000, help_text="What was done.")
    operating_hours = NumberField(
        required=False,
        allow_null=True,
        min_value=0,
        max_value=1_000_000,
        help_text="The spreader's operating hours counter at the time.",
    )


class GitHubAlertInput(serializers.Serializer):
    """One match in a GitHub secret-scanning alert. Not strict: keys GitHub adds later are
    ignored, not refused (a refused delivery would be retried for ever)."""

    token = TextField(max_length=512, help_text="The string that matched our pattern.")
    type = TextField(
        max_length=100,
        required=False,
        allow_blank=True,
        default="",
        help_text="The pattern's name in GitHub's program, e.g. `quaygate_personal_access_token`.",
    )
    url = TextField(
        max_length=2048,
        required=False,
        allow_blank=True,
        default="",
        help_text="The public URL where it was found (may be empty).",
    )
    source = TextField(
        max_length=64,
        required=False,
        allow_blank=True,
        default="",
        help_text="Where on GitHub: `content`, `commit`, `issue_comment`, `gist_content`, …",
    )


# --- output -------------------------------------------------------------------------------------


class TerminalOut(FieldsOnceModelSerializer):
    class Meta:
        model = Terminal
        fields = ["code", "name", "country", "time_zone"]


class SpreaderOut(FieldsOnceModelSerializer):
    terminal = serializers.CharField(source="terminal.code", help_text="The terminal's code.")

    class Meta:
        model = Spreader
        fields = ["serial_number", "model", "status", "commissioned_at", "terminal"]


class ActorOut(serializers.Serializer):
    type = serializers.ChoiceField(choices=["token", "user"])
    token_prefix = serializers.CharField(
        required=False, help_text="The acting token's display prefix (qgp_ and 4 characters)."
    )


def _actor(token: Any, user_id: int | None) -> dict[str, str] | None:
    if token is not None:
        return {"type": "token", "token_prefix": token.display_prefix}
    if user_id is not None:
        return {"type": "user"}
    return None


class AlarmOut(serializers.ModelSerializer):
    spreader = serializers.CharField(source="spreader.serial_number")
    state = serializers.SerializerMethodField()
    acknowledged_by = serializers.SerializerMethodField()

    class Meta:
        model = Alarm
        fields = [
            "id",
            "spreader",
            "code",
            "severity",
            "message",
            "state",
            "raised_at",
            "cleared_at",
            "acknowledged_at",
            "acknowledged_by",
        ]

    @extend_schema_field(serializers.ChoiceField(choices=["active", "cleared"]))
    def get_state(self, alarm: Alarm) -> str:
        return "active" if alarm.cleared_at is None else "cleared"

    @extend_schema_field(ActorOut(allow_null=True))
    def get_acknowledged_by(self, alarm: Alarm) -> dict[str, str] | None:
        return _actor(alarm.acknowledged_by_token, alarm.acknowledged_by_user_id)


class MaintenanceOut(serializers.ModelSerializer):
    spreader = serializers.CharField(source="spreader.serial_number")
    created_by = serializers.SerializerMethodField()

    class Meta:
        model = MaintenanceRecord
        fields = [
            "id",
            "spreader",
            "performed_at",
            "kind",
            "description",
            "operating_hours",
            "created_at",
            "created_by",
        ]

    @extend_schema_field(ActorOut(allow_null=True))
    def get_created_by(self, record: MaintenanceRecord) -> dict[str, str] | None:
        return _actor(record.created_by_token, record.created_by_user_id)


class TokenOwnerOut(serializers.Serializer):
    """Who the token belongs to: a person (personal token) or the organisation through one of
    its service accounts (service token, which outlives the admin who created it)."""

    type = serializers.ChoiceField(choices=["user", "service_account"])
    name = serializers.CharField(
        required=False, help_text="The service account's name (service tokens only)."
    )
    email = serializers.EmailField(
        required=False, help_text="The owner's email address (personal tokens only)."
    )


class TokenOut(serializers.Serializer):
    """This token, as GET /token shows it. Never the secret or its hash."""

    id = serializers.IntegerField()
    name = serializers.CharField()
    display_prefix = serializers.CharField(help_text="qgp_ and the first 4 characters.")
    organization = serializers.CharField(source="organization.name")
    owner = serializers.SerializerMethodField()
    scopes = serializers.ListField(child=serializers.CharField())
    terminal_access = serializers.ChoiceField(choices=["all", "selected"])
    terminals = serializers.SerializerMethodField(
        help_text="Codes of the selected terminals (empty when terminal_access is all)."
    )
    allowed_ips = serializers.ListField(
        child=serializers.CharField(), help_text="CIDRs; empty: any address."
    )
    rate_limit_per_hour = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(allow_null=True)
    last_used_at = serializers.DateTimeField(allow_null=True)
    regenerated_at = serializers.DateTimeField(allow_null=True)

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_terminals(self, token: Any) -> list[str]:
        return sorted(terminal.code for terminal in token.terminals.all())

    @extend_schema_field(serializers.IntegerField())
    def get_rate_limit_per_hour(self, token: Any) -> int:
        return self.context["rate_limit_per_hour"]

    @extend_schema_field(TokenOwnerOut)
    def get_owner(self, token: Any) -> dict[str, str]:
        if token.service_account_id is not None:
            return {"type": "service_account", "name": token.service_account.name}
        return {"type": "user", "email": token.owner.email}


class RotatedTokenOut(TokenOut):
    token = serializers.CharField(
        help_text="The new secret. Shown this once: store it now (a secret store, not code)."
    )
    old_secret_valid_until = serializers.DateTimeField(
        allow_null=True, help_text="When the old secret stops working; null: it already has."
    )


class LeakReportOut(serializers.Serializer):
    detail = serializers.CharField()


class GitHubAlertVerdictOut(serializers.Serializer):
    """GitHub's feedback format, one per alert in order. Never the token: its SHA-256."""

    token_hash = serializers.CharField(help_text="SHA-256 of the token, lowercase hex.")
    token_type = serializers.CharField(help_text="The alert's `type`, as sent.")
    label = serializers.ChoiceField(
        choices=["true_positive", "false_positive"],
        help_text="`true_positive`: one of our tokens (live ones are now revoked); "
        "`false_positive`: not a Quaygate token.",
    )


class TelemetryRawPoint(serializers.Serializer):
    time = serializers.DateTimeField()
    twistlock_cycles = serializers.IntegerField(required=False)
    lifts = serializers.IntegerField(required=False)
    load_tonnes = serializers.FloatField(required=False)
    hydraulic_pressure_bar = serializers.FloatField(required=False)
    oil_temperature_c = serializers.FloatField(required=False)
    operating_hours = serializers.FloatField(required=False)


class BucketStats(serializers.Serializer):
    min = serializers.FloatField()
    avg = serializers.FloatField()
    max = serializers.FloatField()


class TelemetryBucket(serializers.Serializer):
    time = serializers.DateTimeField(
        help_text="Start of the hour or day in `time_zone`, with its UTC offset."
    )
    count = serializers.IntegerField(help_text="Readings in the bucket.")
    twistlock_cycles = BucketStats(required=False)
    lifts = BucketStats(required=False)
    load_tonnes = BucketStats(required=False)
    hydraulic_pressure_bar = BucketStats(required=False)
    oil_temperature_c = BucketStats(required=False)
    operating_hours = BucketStats(required=False)


class _TelemetrySeries(serializers.Serializer):
    spreader = serializers.CharField()
    since = serializers.DateTimeField()
    until = serializers.DateTimeField()
    metrics = serializers.ListField(child=serializers.ChoiceField(choices=readings.METRICS))
    time_zone = serializers.CharField(
        help_text="The IANA zone (or UTC) of the buckets; times carry its UTC offset."
    )


class TelemetryRawSeries(_TelemetrySeries):
    resolution = serializers.ChoiceField(choices=["raw"])
    points = TelemetryRawPoint(many=True, help_text="One per reading, oldest first.")


class TelemetryBucketSeries(_TelemetrySeries):
    resolution = serializers.ChoiceField(choices=["hour", "day"])
    points = TelemetryBucket(
        many=True, help_text="One per hour or day in `time_zone` that has readings, oldest first."
    )


class ChangelogQuery(QuerySerializer):
    """No filters: the changelog is short; page through it with the cursor."""


class ChangelogEntryOut(serializers.Serializer):
    """One change of the API (changelog.entries.Entry)."""

    id = serializers.CharField(help_text="Stable; announcements and the page's anchors use it.")
    version = serializers.CharField(help_text="The API version it shipped in (semantic).")
    date = serializers.DateField()
    kind = serializers.ChoiceField(choices=list(CHANGE_KINDS))
    title = serializers.CharField()
    description = serializers.CharField(help_text="Plain text; paragraphs split by a blank line.")
    operations = serializers.ListField(
        child=serializers.CharField(),
        help_text="The operationIds it affects (empty when `all_operations`).",
    )
    all_operations = serializers.BooleanField(help_text="It applies to every operation.")
    sunset = serializers.DateField(
        allow_null=True,
        help_text="A deprecation only: the date its operations stop working (RFC 8594 Sunset).",
    )


class SandboxResetOut(serializers.Serializer):
    """What POST /sandbox/reset made: the fixtures, counted, and the day they are stamped from."""

    anchored_at = serializers.DateTimeField(
        help_text="Midnight UTC of the reset's day: the readings cover the 7 days before it."
    )
    terminals = serializers.IntegerField()
    spreaders = serializers.IntegerField()
    readings = serializers.IntegerField()
    alarms = serializers.IntegerField()
    maintenance_records = serializers.IntegerField()
