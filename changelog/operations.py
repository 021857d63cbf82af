"""Which operations exist, and what the usage log records for a call to each.

The OpenAPI schema names operations (`operationId`); the usage log records the HTTP method and
the URL route Django matched (`api/v1/spreaders/<serial:serial>`). Both come from the URLconf,
read by reflection (drf-spectacular's generator, Django's resolver), so this app imports no
edge: the schema is made once per process and kept.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver

_PARAMETER = re.compile(r"<(?:\w+:)?(\w+)>")


@dataclass(frozen=True, slots=True)
class Operation:
    operation_id: str
    method: str  # "GET"
    path: str  # the OpenAPI path, "/api/v1/spreaders/{serial}"
    route: str  # what UsageRecord.route holds for it, "api/v1/spreaders/<serial:serial>"
    deprecated: bool


@functools.cache
def operations() -> dict[str, Operation]:
    """Every operation of the OpenAPI schema, by operationId."""
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    routes = {_as_openapi_path(route): route for route in _routes(get_resolver().url_patterns)}
    found: dict[str, Operation] = {}
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "operationId" not in operation:
                continue
            found[operation["operationId"]] = Operation(
                operation_id=operation["operationId"],
                method=method.upper(),
                path=path,
                route=routes.get(path, ""),
                deprecated=bool(operation.get("deprecated")),
            )
    return found


def _routes(patterns: list, prefix: str = "") -> list[str]:
    """Every route as ResolverMatch.route spells it (Django joins the patterns' strings)."""
    found = []
    for pattern in patterns:
        text = str(pattern.pattern).removeprefix("^") if prefix else str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            found += _routes(pattern.url_patterns, prefix + text)
        elif isinstance(pattern, URLPattern):
            found.append(prefix + text)
    return found


def _as_openapi_path(route: str) -> str:
    return "/" + _PARAMETER.sub(r"{\1}", route)
