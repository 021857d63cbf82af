"""The request id travels with the work a request queues.

Publishing a task inside a request (or inside a task) stamps the current request id into the
message headers (core.requestid.TASK_HEADER); the worker makes it current while the task runs,
so the worker's log lines carry it and the tasks that task queues carry it on. Celery's
signals are the hook it offers for this; no business flow hangs on them.
"""

from __future__ import annotations

import contextlib
from contextvars import Token
from typing import Any

from celery import signals

from core import requestid

_running: dict[str, Token] = {}


def stamp_headers(headers: dict[str, Any] | None = None, **_: Any) -> None:
    request_id = requestid.current()
    if request_id and headers is not None:
        headers.setdefault(requestid.TASK_HEADER, request_id)


def enter_task(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    request_id = getattr(getattr(task, "request", None), requestid.TASK_HEADER, None)
    # An eager task runs inside its caller, whose id is current already.
    if task_id and requestid.is_sane(request_id):
        _running[task_id] = requestid.activate(request_id)


def leave_task(task_id: str | None = None, **_: Any) -> None:
    token = _running.pop(task_id, None) if task_id else None
    if token is not None:
        # ValueError: made in another context (a thread pool), which takes it along.
        with contextlib.suppress(ValueError):
            requestid.deactivate(token)


def connect() -> None:
    signals.before_task_publish.connect(stamp_headers, weak=False, dispatch_uid="qg-request-id")
    signals.task_prerun.connect(enter_task, weak=False, dispatch_uid="qg-request-id")
    signals.task_postrun.connect(leave_task, weak=False, dispatch_uid="qg-request-id")
