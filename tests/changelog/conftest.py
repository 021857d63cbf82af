"""Changelog fixtures: a changelog file with a deprecation (the real one has none yet), people
who do and don't hear of an announcement, and usage rows as the API's middleware writes them."""

import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from django.urls import resolve
from django.utils import timezone

from accounts.models import Membership, Organization, User
from changelog import services
from changelog.models import Announcement
from telemetry.models import UsageRecord
from tests.admin.conftest import ops, ops_client  # noqa: F401 (the ops console's fixtures)
from tests.conftest import make_org, make_user
from tokens import services as token_services
from tokens.actors import Actor
from tokens.models import PersonalAccessToken

DEPRECATING = """
[[release]]
version = "1.7.0"
date = 2026-12-03

[[release.change]]
id = "retire-maintenance-list"
kind = "deprecated"
title = "GET /maintenance is deprecated: use each spreader's records"
description = \"\"\"
The organisation-wide maintenance list is deprecated.

Read each spreader's maintenance instead.\"\"\"
operations = ["maintenance_list", "alarms_list"]
sunset = 2027-06-30

[[release.change]]
id = "more-telemetry"
kind = "added"
title = "More telemetry metrics"
description = "Two more metrics."
operations = ["spreaders_telemetry"]
"""


@pytest.fixture
def changelog_file(settings, tmp_path) -> Path:
    """The real changelog with a deprecation release on top."""
    real = Path(settings.API_CHANGELOG_FILE).read_text()
    path = tmp_path / "changelog.toml"
    path.write_text(DEPRECATING + real)
    settings.API_CHANGELOG_FILE = path
    return path


@pytest.fixture
def issue_token() -> Callable[..., PersonalAccessToken]:
    def issue(owner: User, organization: Organization, name: str, **fields) -> PersonalAccessToken:
        return token_services.issue_token(
            owner=owner,
            organization=organization,
            name=name,
            scopes=["fleet:read", "maintenance:read", "alarms:read"],
            actor=Actor.system("tests"),
            **fields,
        ).token

    return issue


def record_call(token: PersonalAccessToken, method: str, path: str, *, days_ago: float = 1) -> None:
    """A usage row as telemetry.usage writes it: the route is the one Django resolves."""
    UsageRecord.objects.create(
        request_id=uuid.uuid4(),
        created_at=timezone.now() - timedelta(days=days_ago),
        token=token,
        organization_id=token.organization_id,
        token_prefix=token.display_prefix,
        method=method,
        route=resolve(path).route,
        path=path,
        status=200,
        latency_ms=3.0,
    )


def admin_of(organization: Organization, email: str) -> User:
    return make_user(email, organization, role=Membership.Role.ADMIN)


@pytest.fixture
def draft(changelog_file) -> Callable[[str], Announcement]:
    def make(entry_id: str = "retire-maintenance-list") -> Announcement:
        return services.draft_announcement(entry_id=entry_id)

    return make


@pytest.fixture
def no_access_org(db) -> Organization:
    return make_org("Port Without API", api_access=Organization.ApiAccess.NONE)


@pytest.fixture
def worker(mail_worker) -> None:
    """The shared mailing worker (tests.support.smtp; `smtp` is the root conftest's)."""
