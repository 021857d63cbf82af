"""OpenTelemetry tracing, only when asked for: OTEL_EXPORTER_OTLP_ENDPOINT set.

Unset (the default), nothing of OpenTelemetry is imported and nothing costs anything.
"""

from __future__ import annotations

import os


def configure_from_environment() -> bool:
    if not os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        return False
    return False
