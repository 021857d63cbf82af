"""The audit log's query string and output (GET /api/v1/audit-events).

The output is flat and carries every field the event's hash covers, in the form the hash
covers it (tokens.audit_chain, README "Verifying the audit chain"): a customer recomputes
`hash` from the JSON they received, with no other source.
"""

from __future__ import annotations

import re
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.serializers import ChoicesField, MomentField, QuerySerializer, TextField
from tokens import audit_chain
from tokens.models import AuditEvent

TOKEN_PREFIX = re.compile(r"^qg[ps]_[A-Za-z0-9]{4}$")


class AuditEventQuery(QuerySerializer):
    action = ChoicesField(
        choices=AuditEvent.Action.values,
        help_text="One or more actions (comma-separated), e.g. token.created,token.revoked.",
    )
    actor = TextField(
        required=False,
        max_length=200,
        help_text="Who acted, exactly as `actor_label` shows it (an email, a token prefix or "
        "a process name); case-insensitive.",
    )
    token_prefix = TextField(
        required=False,
        max_length=8,
        help_text="Events about the token with this display prefix (qgp_ and 4 characters).",
    )
    since = MomentField(required=False, help_text="At or after this moment (ISO 8601).")
    until = MomentField(required=False, help_text="Before this moment (ISO 8601).")

    def validate_token_prefix(self, value: str) -> str:
        if not TOKEN_PREFIX.match(value):
            raise serializers.ValidationError(
                "A token's display prefix is qgp_ (or qgs_) and 4 letters or digits, like "
                "qgp_AbC1. Never send a whole token.",
                code="invalid_token_prefix",
            )
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        since, until = attrs.get("since"), attrs.get("until")
        if since and until and since >= until:
            raise serializers.ValidationError(
                {"until": [serializers.ErrorDetail("Must be after `since`.", code="invalid_range")]}
            )
        return attrs


class AuditEventOut(serializers.ModelSerializer):
    seq = serializers.IntegerField(
        source="chain_seq", help_text="The event's position in its organisation's chain (1…)."
    )
    created_at = serializers.SerializerMethodField()
    actor_kind = serializers.CharField()
    prev_hash = serializers.CharField(help_text="The previous event's hash; 64 zeros for seq 1.")
    hash = serializers.CharField(
        help_text="Hex SHA-256 of this event's canonical JSON (see the audit chain docs)."
    )
    details = serializers.JSONField()

    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "seq",
            "created_at",
            "action",
            "actor_kind",
            "actor_label",
            "actor_user_id",
            "actor_token_id",
            "organization_id",
            "token_id",
            "token_prefix",
            "ip",
            "user_agent",
            "details",
            "prev_hash",
            "hash",
        ]

    @extend_schema_field(
        serializers.CharField(
            help_text="UTC, always six fraction digits: 2026-05-01T12:00:00.000000Z"
        )
    )
    def get_created_at(self, event: AuditEvent) -> str:
        return audit_chain.format_time(event.created_at)
