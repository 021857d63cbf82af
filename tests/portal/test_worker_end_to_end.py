import pytest
from django.db import connection

from accounts.models import Organization
from tests.conftest import require
from tests.support.tasks import create_organization
from tests.support.worker import celery_worker, wait_for


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("redis_client")  # the Celery broker
def test_a_real_worker_process_runs_a_task_and_the_database_shows_its_effect():
    require(
        connection.vendor == "postgresql",
        "needs DATABASE_URL on PostgreSQL (shared with the worker)",
    )

    with celery_worker(include=("tests.support.tasks",)):
        create_organization.delay("made-by-worker")
        assert wait_for(
            lambda: Organization.objects.filter(slug="made-by-worker").exists(), timeout=30
        )
