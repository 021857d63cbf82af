"""A GET through a WSGI handler in-process, as gunicorn calls it (request_started/finished fire,
the whole middleware stack runs): for tests that must see what a server sees, and for
scripts/profile_request.py."""

import io
import sys
from typing import Any


def get_environ(path: str, authorization: str, host: str = "127.0.0.1") -> dict[str, Any]:
    """The WSGI environ of `GET path` with an Authorization header; `path` may carry a query."""
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path.split("?")[0],
        "QUERY_STRING": path.partition("?")[2],
        "SERVER_NAME": host,
        "SERVER_PORT": "80",
        "HTTP_HOST": host,
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_AUTHORIZATION": authorization,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }


def call(handler, environ: dict[str, Any], start_response) -> bytes:
    """The response body of one call (a fresh input stream each time), closed as servers do."""
    response = handler(dict(environ, **{"wsgi.input": io.BytesIO(b"")}), start_response)
    try:
        return b"".join(response)
    finally:
        response.close()
