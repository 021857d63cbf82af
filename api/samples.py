"""Code samples for every operation (`x-codeSamples`, which ReDoc shows beside each one): curl,
Python with `requests`, Python with the Quaygate client (clients/python) and JavaScript `fetch`.

Made in one place, from the generated schema itself (a drf-spectacular postprocessing hook): the
real method and path, the path parameters, the required query parameters (and `limit` on lists),
a body built from the request schema, an `Idempotency-Key` on writes that take one, and the
token read from the `QUAYGATE_TOKEN` environment variable — never pasted into the sample. An
operation added later gets its samples without anyone writing them; the test suite runs every
one against a live server (tests/api/test_code_samples.py), so none can rot.

The base URL is SITE_URL, so the samples on a running server's docs page point at that server.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.conf import settings

from api.idempotency import KEY_HEADER
from api.pagination import LIMIT_PARAM

TOKEN_VARIABLE = "QUAYGATE_TOKEN"  # noqa: S105 (a variable name)
SAMPLE_LIMIT = 10

# Values a person would recognise, by parameter or field name; anything else falls back to the
# schema's example, default or enum, then to a plain value of its type. The test suite makes
# the objects these name (a spreader EMX-001 with alarm 4242) before it runs the samples.
NAMED_EXAMPLES: dict[str, Any] = {
    "serial": "EMX-001",
    "alarm_id": 4242,
    "performed_at": "2026-11-30T08:00:00Z",
    "description": "Replaced the twistlock pins on the landside corners.",
    "kind": "repair",
    "overlap_hours": 1,
    "credentials": ["qgp_FoundInAPublicPaste000000000000000000000"],
    "token": "qgp_FoundInAPublicRepository0000000000000000",
    "type": "quaygate_personal_access_token",
    "url": "https://github.com/octocat/Hello-World/blob/main/settings.py",
    "source": "content",
}
_FORMAT_EXAMPLES = {"date-time": "2026-11-30T08:00:00Z", "date": "2026-11-30", "uri": ""}
_TYPE_EXAMPLES = {"integer": 1, "number": 1.0, "boolean": True, "string": "example"}

# The client call for each operation it has a method for ({path parameter} and {args}: the
# query and body as keyword arguments), and what the sample does with the answer.
CLIENT_CALLS: dict[str, tuple[str, str]] = {
    "terminals_list": ("client.terminals.list({args})", "each"),
    "spreaders_list": ("client.spreaders.list({args})", "each"),
    "spreaders_retrieve": ("client.spreaders.get({serial}{args})", "print"),
    "spreaders_telemetry": ("client.spreaders.telemetry({serial}{args})", "print"),
    "maintenance_create": ("client.maintenance.create({serial}{args})", "print"),
    "alarms_list": ("client.alarms.list({args})", "each"),
    "alarms_acknowledge": ("client.alarms.acknowledge({alarm_id}{args})", "print"),
    "maintenance_list": ("client.maintenance.list({args})", "each"),
    "token_retrieve": ("client.token.get({args})", "print"),
    "token_destroy": ("client.token.revoke({args})", "none"),
    "token_rotate": ("client.rotate({args})", "rotate"),
    "credentials_revoke": ("client.report_leaked_tokens({args})", "print"),
    "changelog_list": ("client.changelog({args})", "each"),
}


@dataclass
class Call:
    """One operation, reduced to what a sample needs."""

    method: str
    path: str  # with the example path parameters filled in
    operation_id: str
    path_values: dict[str, Any] = field(default_factory=dict)
    query: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)  # required headers -> env variable
    body: Any = None
    authenticated: bool = True
    idempotency_key: bool = False
    no_content: bool = False

    @property
    def signed(self) -> bool:
        """A body signed byte for byte (secret scanning): sent as the exact text, not re-encoded."""
        return bool(self.headers)


def add_code_samples(result: dict, generator: Any, request: Any, public: bool) -> dict:
    """drf-spectacular postprocessing hook (SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"])."""
    base = settings.SITE_URL.rstrip("/")
    for path, item in result.get("paths", {}).items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            call = describe(result, path, method, operation)
            operation["x-codeSamples"] = code_samples(call, base)
    return result


def code_samples(call: Call, base: str) -> list[dict[str, str]]:
    samples = [
        {"lang": "Shell", "label": "curl", "source": curl(call, base)},
        {"lang": "Python", "label": "Python (requests)", "source": python_requests(call, base)},
    ]
    client = python_client(call, base)
    if client is not None:
        samples.append({"lang": "Python", "label": "Python (quaygate)", "source": client})
    samples.append(
        {"lang": "JavaScript", "label": "JavaScript (fetch)", "source": fetch(call, base)}
    )
    return samples


# --- from the schema to a Call ------------------------------------------------------------------


def describe(schema: dict, path: str, method: str, operation: dict) -> Call:
    call = Call(method=method.upper(), path=path, operation_id=operation.get("operationId", ""))
    for parameter in operation.get("parameters", []):
        name, where = parameter["name"], parameter["in"]
        if where == "path":
            call.path_values[name] = example(schema, parameter.get("schema", {}), name)
        elif where == "query" and (parameter.get("required") or name == LIMIT_PARAM):
            value = example(schema, parameter.get("schema", {}), name)
            call.query[name] = SAMPLE_LIMIT if name == LIMIT_PARAM else value
        elif where == "header" and name == KEY_HEADER:
            call.idempotency_key = True
        elif where == "header" and parameter.get("required"):
            call.headers[name] = re.sub(r"[^A-Z0-9]+", "_", name.upper())
    for name, value in call.path_values.items():
        call.path = call.path.replace("{" + name + "}", str(value))
    content = operation.get("requestBody", {}).get("content", {})
    if "application/json" in content:
        call.body = example(schema, content["application/json"].get("schema", {}), "")
    call.authenticated = bool(operation.get("security"))
    successes = [code for code in operation.get("responses", {}) if code.startswith("2")]
    call.no_content = successes == ["204"]
    return call


def _resolve(schema: dict, node: dict) -> dict:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    for combined in ("allOf", "oneOf", "anyOf"):
        if node.get(combined):
            node = {**_resolve(schema, node[combined][0]), **_without(node, combined)}
    return node


def _without(node: dict, key: str) -> dict:
    return {k: v for k, v in node.items() if k != key}


def example(schema: dict, node: dict, name: str) -> Any:
    """A value for `node`: a named example, the schema's own example/default/enum, then by type."""
    if name in NAMED_EXAMPLES:
        return NAMED_EXAMPLES[name]
    node = _resolve(schema, node)
    for key in ("example", "default"):
        if key in node and node[key] not in ("", None):
            return node[key]
    if node.get("enum"):
        return node["enum"][0]
    kind = node.get("type", "object")
    if kind == "array":
        return [example(schema, node.get("items", {}), "")] * max(1, node.get("minItems", 1))
    if kind == "object":
        properties = node.get("properties", {})
        wanted = [
            key for key in properties if key in node.get("required", []) or key in NAMED_EXAMPLES
        ]
        return {key: example(schema, properties[key], key) for key in wanted}
    if node.get("format") in _FORMAT_EXAMPLES and _FORMAT_EXAMPLES[node["format"]]:
        return _FORMAT_EXAMPLES[node["format"]]
    if kind in ("integer", "number") and "minimum" in node:
        return max(node["minimum"], _TYPE_EXAMPLES[kind])
    return _TYPE_EXAMPLES.get(kind, "example")


# --- the samples ----------------------------------------------------------------------------------


def body_text(call: Call) -> str:
    """The body as sent: Python's json.dumps, the same bytes `requests` sends for `json=`."""
    return json.dumps(call.body)


def _url(call: Call, base: str, *, with_query: bool) -> str:
    url = base + call.path
    if with_query and call.query:
        url += "?" + urlencode(call.query)
    return url


def curl(call: Call, base: str) -> str:
    lines = [f'curl --fail-with-body -sS -X {call.method} "{_url(call, base, with_query=True)}"']
    if call.authenticated:
        lines.append(f'-H "Authorization: Bearer ${TOKEN_VARIABLE}"')
    if call.idempotency_key:
        lines.append(f'-H "{KEY_HEADER}: $(uuidgen)"')
    for header, variable in call.headers.items():
        lines.append(f'-H "{header}: ${variable}"')
    if call.body is not None:
        lines.append('-H "Content-Type: application/json"')
        lines.append("--data " + _shell_quote(body_text(call)))
    return " \\\n  ".join(lines)


def _shell_quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def python_requests(call: Call, base: str) -> str:
    headers = []
    if call.authenticated:
        headers.append(f'"Authorization": f"Bearer {{os.environ[\'{TOKEN_VARIABLE}\']}}"')
    if call.idempotency_key:
        headers.append(f'"{KEY_HEADER}": str(uuid.uuid4())')
    headers += [f'"{h}": os.environ["{variable}"]' for h, variable in call.headers.items()]
    arguments = [f'"{_url(call, base, with_query=False)}"']
    if headers:
        arguments.append("headers={\n        " + ",\n        ".join(headers) + ",\n    }")
    if call.query:
        arguments.append(f"params={_python(call.query)}")
    if call.body is not None and call.signed:
        arguments.append(f"data={_python(body_text(call))}")
    elif call.body is not None:
        arguments.append(f"json={_python(call.body, indent=4)}")
    arguments.append("timeout=30")
    imports = ["import os"] if call.authenticated or call.headers else []
    imports += ["import uuid"] if call.idempotency_key else []
    answer = "print(response.status_code)" if call.no_content else "print(response.json())"
    return "\n".join(
        [
            *imports,
            *([""] if imports else []),
            "import requests",
            "",
            f"response = requests.{call.method.lower()}(",
            *(f"    {argument}," for argument in arguments),
            ")",
            "response.raise_for_status()",
            answer,
        ]
    )


def python_client(call: Call, base: str) -> str | None:
    """With the client: its method for the operation, or its generic `request` for one it has no
    method for yet. None for a signed delivery (GitHub's, not a partner's, to send)."""
    if call.signed:
        return None
    setup = [
        "from quaygate import Client",
        "",
        f'client = Client("{base}")  # the token from ${TOKEN_VARIABLE}',
    ]
    kwargs = {**call.query, **(call.body if isinstance(call.body, dict) else {})}
    args = "".join(f", {key}={_python(value)}" for key, value in kwargs.items())
    if call.operation_id not in CLIENT_CALLS:
        generic = f'client.request("{call.method}", "{call.path}"'
        generic += f", params={_python(call.query)}" if call.query else ""
        generic += f", json={_python(call.body)}" if call.body is not None else ""
        return "\n".join([*setup, f"print({generic}))"])
    template, use = CLIENT_CALLS[call.operation_id]
    values = {name: _python(value) for name, value in call.path_values.items()}
    expression = template.format(**values, args=args if values else args.removeprefix(", "))
    if use == "each":
        lines = [f"for item in {expression}:", "    print(item)"]
    elif use == "none":
        lines = [expression]
    elif use == "rotate":
        lines = [
            f"rotated = {expression}",
            "# The client now uses the new secret; store it where your deployment reads it.",
            "print(rotated.display_prefix, rotated.old_secret_valid_until)",
        ]
    else:
        lines = [f"print({expression})"]
    return "\n".join([*setup, *lines])


def _python(value: Any, indent: int | None = None) -> str:
    """A Python literal (JSON's true/false/null spelled as Python's)."""
    text = json.dumps(value, indent=indent)
    text = re.sub(r"\btrue\b", "True", re.sub(r"\bfalse\b", "False", text))
    text = re.sub(r"\bnull\b", "None", text)
    if indent:
        text = text.replace("\n", "\n    ")
    return text


def fetch(call: Call, base: str) -> str:
    headers = []
    if call.authenticated:
        headers.append(f"Authorization: `Bearer ${{process.env.{TOKEN_VARIABLE}}}`")
    if call.idempotency_key:
        headers.append(f'"{KEY_HEADER}": crypto.randomUUID()')
    headers += [f'"{h}": process.env.{variable}' for h, variable in call.headers.items()]
    options = [f'method: "{call.method}"']
    if call.body is not None:
        headers.append('"Content-Type": "application/json"')
    if headers:
        options.append("headers: {\n    " + ",\n    ".join(headers) + ",\n  }")
    if call.body is not None and call.signed:
        options.append(f"body: {json.dumps(body_text(call))}")
    elif call.body is not None:
        options.append(f"body: JSON.stringify({json.dumps(call.body)})")
    answer = "response.status" if call.no_content else "await response.json()"
    return "\n".join(
        [
            f'const response = await fetch("{_url(call, base, with_query=True)}", {{',
            *(f"  {option}," for option in options),
            "});",
            "if (!response.ok) throw new Error(`${response.status}: ${await response.text()}`);",
            f"console.log({answer});",
        ]
    )
