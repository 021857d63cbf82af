"""The request id rides in the headers of the tasks a request queues, into the worker's logs."""

import json
import os

import pytest
from django.db import connection

from core import requestid
from notifications.models import Notification
from observability import task_context
from tests.conftest import require
from tests.support.worker import ROOT, celery_worker, wait_for

RID = "7d444840-9dc0-41b8-9d52-3c4f1f2e7a10"


def test_publishing_inside_a_request_stamps_its_id():
    headers: dict = {}
    activated = requestid.activate(RID)
    try:
        task_context.stamp_headers(headers=headers)
    finally:
        requestid.deactivate(activated)

    assert headers[requestid.TASK_HEADER] == RID


def test_publishing_outside_of_one_stamps_nothing():
    headers: dict = {}

    task_context.stamp_headers(headers=headers)

    assert requestid.TASK_HEADER not in headers


def test_a_worker_makes_the_stamped_id_current_while_the_task_runs():
    class Task:
        class request:
            quaygate_request_id = RID

    task_context.enter_task(task_id="t1", task=Task)
    try:
        assert requestid.current() == RID
    finally:
        task_context.leave_task(task_id="t1")

    assert requestid.current() is None


def test_a_task_without_a_sane_id_changes_nothing():
    class Task:
        class request:
            quaygate_request_id = "'; drop table"

    task_context.enter_task(task_id="t2", task=Task)
    task_context.leave_task(task_id="t2")

    assert requestid.current() is None


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_rotation_email_is_sent_by_a_worker_that_logs_the_requests_id(
    issue, owner, api_client, redis_client
):
    require(connection.vendor == "postgresql", "needs PostgreSQL (shared with the worker)")
    from portal.celery import app

    app.control.purge()
    issued = issue(owner, name="rotated by a partner")
    log_path = ROOT / "var" / f"test-worker-{os.getpid()}.log"

    with celery_worker(extra_env={"LOG_FORMAT": "json"}):
        response = api_client(issued.secret).post("/api/v1/token/rotate", {}, format="json")
        assert response.status_code == 201
        request_id = response["X-Request-Id"]
        rotated = Notification.objects.filter(kind="token_regenerated", user=owner)
        assert wait_for(lambda: rotated.filter(state="sent").exists(), timeout=30)

    lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
    mine = [line for line in lines if line.get("request_id") == request_id]
    assert mine, "no worker log line carries the request id"
    assert any("notifications.send_notification" in line["message"] for line in mine)
