"""The one body format the API takes: a small JSON document.

DRF's JSONParser reads the whole stream whatever its size (Django's DATA_UPLOAD_MAX_MEMORY_SIZE
only guards `request.body`) and lets a RecursionError from deeply nested JSON through as a 500.
This parser reads at most MAX_BODY_BYTES + 1 bytes and turns every decoding failure into a 400.
"""

from __future__ import annotations

import json
from typing import Any

from rest_framework import exceptions
from rest_framework.parsers import JSONParser

from api.exceptions import RequestTooLarge

MAX_BODY_BYTES = 64 * 1024  # the largest legitimate body (a leak report of 100 tokens) is ~5 KiB


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


class BoundedJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None) -> Any:
        if stream is None:
            return {}
        declared = declared_length(parser_context)
        if declared is not None and declared > MAX_BODY_BYTES:
            raise RequestTooLarge(f"The request body may be at most {MAX_BODY_BYTES} bytes.")
        raw = stream.read(MAX_BODY_BYTES + 1)
        if len(raw) > MAX_BODY_BYTES:
            raise RequestTooLarge(f"The request body may be at most {MAX_BODY_BYTES} bytes.")
        return decode_json(raw)


def decode_json(raw: bytes) -> Any:
    """A JSON body as Python values; every decoding failure a ParseError (400)."""
    try:
        text = raw.decode("utf-8")
        return json.loads(text, parse_constant=_reject_constant)
    except UnicodeDecodeError:
        raise exceptions.ParseError("The request body is not UTF-8 encoded.") from None
    except (ValueError, RecursionError) as error:
        # json's message names the line and column, which helps the caller fix the body.
        message = str(error) if isinstance(error, ValueError) else "it is nested too deeply"
        raise exceptions.ParseError(f"The request body is not valid JSON: {message}") from None


def declared_length(parser_context: dict | None) -> int | None:
    request = (parser_context or {}).get("request")
    meta = getattr(getattr(request, "_request", request), "META", {})
    try:
        return int(meta.get("CONTENT_LENGTH") or 0) or None
    except ValueError:
        return None
