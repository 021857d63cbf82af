"""Reads only the portal's pages need, each a fixed number of queries whatever the data size.

Tenancy is decided before these are called (tokens.selectors.token_for, membership checks);
these shape what the pages show.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.db.models import Case, Count, F, OuterRef, Q, QuerySet, Subquery, Sum, When
from django.db.models.functions import Coalesce, Lower, TruncDate
from django.http import Http404
from django.utils import timezone

from accounts.models import Membership, Organization, User
from members.models import Invitation
from telemetry.models import Anomaly, TokenSighting, UsageHourly
from tokens.models import AuditEvent, PersonalAccessToken, ProductionAccessRequest, ServiceAccount

CHART_DAYS = 30


def memberships_of(user: User) -> QuerySet[Membership]:
    return (
        Membership.objects.filter(user=user)
        .select_related("organization")
        .order_by("organization__name")
    )


def membership_in(user: User, slug: str) -> Membership | None:
    """The user's membership of the organisation, with `pending_requests`: how many tokens wait
    for an admin's approval there (the Requests tab's badge), counted in the same query."""
    return (
        Membership.objects.filter(user=user, organization__slug=slug)
        .select_related("organization")
        .annotate(pending_requests=Coalesce(Subquery(_pending_count()), 0))
        .first()
    )


def _pending_count() -> QuerySet:
    return (
        PersonalAccessToken.objects.filter(organization=OuterRef("organization_id"))
        .pending()
        .order_by()
        .values("organization_id")
        .annotate(n=Count("pk"))
        .values("n")
    )


def pending_requests(organization: Organization) -> QuerySet[PersonalAccessToken]:
    """The Requests tab: the organisation's tokens waiting for approval, oldest first (the one
    closest to lapsing on top), with their owners and terminals."""
    return (
        PersonalAccessToken.objects.for_org(organization)
        .pending()
        .select_related("owner")
        .prefetch_related("terminals")
        .order_by("created_at", "id")
    )


def own_tokens(user: User) -> QuerySet[PersonalAccessToken]:
    """The dashboard: the user's tokens, newest first, with what each row shows."""
    return (
        PersonalAccessToken.objects.owned_by(user)
        .select_related("organization")
        .prefetch_related("terminals")
        .order_by("-created_at", "-id")
    )


def organization_tokens(organization: Organization) -> QuerySet[PersonalAccessToken]:
    """Every token of an organisation, for its admins: live ones first, then newest first."""
    return (
        PersonalAccessToken.objects.for_org(organization)
        .select_related("owner", "service_account")
        # Pending requests first (they wait for this admin), then live ones on every database
        # (PostgreSQL sorts NULLs last by default).
        .annotate(
            waiting=Case(
                When(approval=PersonalAccessToken.ApprovalState.PENDING, revoked_at=None, then=0),
                default=1,
            )
        )
        .order_by("waiting", F("revoked_at").asc(nulls_first=True), "-created_at", "-id")
    )


def filtered_tokens(
    tokens: QuerySet[PersonalAccessToken], *, q: str = "", status: str = "", owner: str = ""
) -> QuerySet[PersonalAccessToken]:
    """Narrow an organisation's token list: `q` matches the name, the owner's email or name,
    or the start of the token itself (people paste what they see: qgp_AbC1…)."""
    q = q.strip().rstrip("…").strip()
    if q:
        tokens = tokens.filter(
            Q(name__icontains=q)
            | Q(owner__email__icontains=q)
            | Q(owner__full_name__icontains=q)
            | Q(service_account__name__icontains=q)
            | Q(display_prefix__startswith=q[:12])
        )
    if owner == "user":
        tokens = tokens.filter(service_account__isnull=True)
    elif owner == "service":
        tokens = tokens.filter(service_account__isnull=False)
    if status == "live":
        tokens = tokens.filter(revoked_at__isnull=True)
    elif status == "revoked":
        tokens = tokens.filter(revoked_at__isnull=False)
    return tokens


@dataclass(frozen=True, slots=True)
class DayUsage:
    day: date
    ok: int
    client_errors: int
    server_errors: int

    @property
    def total(self) -> int:
        return self.ok + self.client_errors + self.server_errors


def daily_usage(
    token: PersonalAccessToken, *, days: int = CHART_DAYS, now: datetime | None = None
) -> list[DayUsage]:
    """Requests per UTC day for the last `days` days (today included), oldest first.

    Summed in SQL from the hourly roll-ups: 30 days is at most 720 rows, one query. Days with no
    requests are filled in so the chart's axis is always the same length. 3xx counts as success.
    """
    today = (now or timezone.now()).astimezone(UTC).date()
    first = today - timedelta(days=days - 1)
    since = datetime.combine(first, datetime.min.time(), tzinfo=UTC)
    rows = (
        UsageHourly.objects.filter(token=token, hour__gte=since)
        .annotate(day=TruncDate("hour", tzinfo=UTC))
        .values("day")
        .annotate(
            s2=Sum("status_2xx"), s3=Sum("status_3xx"), s4=Sum("status_4xx"), s5=Sum("status_5xx")
        )
        .order_by("day")
    )
    by_day = {row["day"]: row for row in rows}
    result = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        row = by_day.get(day, {})
        result.append(
            DayUsage(
                day=day,
                ok=(row.get("s2") or 0) + (row.get("s3") or 0),
                client_errors=row.get("s4") or 0,
                server_errors=row.get("s5") or 0,
            )
        )
    return result


def sightings(token: PersonalAccessToken, *, limit: int = 20) -> dict[str, list[TokenSighting]]:
    """IP addresses and countries the token was used from, most recent first (one query)."""
    found: dict[str, list[TokenSighting]] = {"ip": [], "country": []}
    rows = TokenSighting.objects.filter(
        token=token, kind__in=[TokenSighting.Kind.IP, TokenSighting.Kind.COUNTRY]
    ).order_by("-last_seen")
    for row in rows[: limit * 2]:
        if len(found[row.kind]) < limit:
            found[row.kind].append(row)
    return found


UNRESOLVED = (Anomaly.State.OPEN, Anomaly.State.ACKNOWLEDGED)


def unresolved_anomalies(token: PersonalAccessToken) -> QuerySet[Anomaly]:
    """The token page's findings: open ones and those someone is looking into, newest first."""
    return Anomaly.objects.filter(token=token, state__in=UNRESOLVED).order_by("-last_seen", "-id")


def findings_visible_to(user: User) -> QuerySet[Anomaly]:
    """Findings about the user's own tokens, plus every finding of the organisations they
    administer (those about a token and those about no token, such as an address guessing
    prefixes). The same people who may manage a token may act on its findings."""
    administered = Membership.objects.filter(user=user, role=Membership.Role.ADMIN).values(
        "organization_id"
    )
    return Anomaly.objects.filter(
        Q(token__owner=user)
        | Q(token__organization_id__in=administered)
        | Q(token__isnull=True, organization_id__in=administered)
    ).select_related("token__owner", "token__organization", "organization")


def finding_for(user: User, anomaly_id: int) -> Anomaly:
    """The finding if `user` may act on it; 404 otherwise (never 403: no existence leak)."""
    anomaly = findings_visible_to(user).filter(pk=anomaly_id).first()
    if anomaly is None:
        raise Http404("No such finding")
    return anomaly


def organization_findings(
    membership: Membership, *, state: str = "unresolved", token_id: int | None = None
) -> QuerySet[Anomaly]:
    """An organisation's findings list: all of them for an admin, a member's own tokens' for a
    member; only `token_id`'s when given. `state` is a FindingFilterForm choice."""
    organization = membership.organization
    if membership.is_admin:
        found = Anomaly.objects.filter(
            Q(token__organization=organization) | Q(token__isnull=True, organization=organization)
        )
    else:
        found = Anomaly.objects.filter(
            token__owner_id=membership.user_id, token__organization=organization
        )
    if token_id is not None:
        found = found.filter(token_id=token_id)
    if state == "unresolved":
        found = found.filter(state__in=UNRESOLVED)
    elif state in Anomaly.State.values:
        found = found.filter(state=state)
    return found.select_related("token__owner").order_by("-last_seen", "-id")


def filtered_audit_log(
    events: QuerySet[AuditEvent],
    *,
    actor: str = "",
    action: str = "",
    since: date | None = None,
    until: date | None = None,
) -> QuerySet[AuditEvent]:
    """Narrow an audit log already limited to what the user may see."""
    if actor:
        events = events.filter(Q(actor_label__icontains=actor) | Q(actor_user__email__iexact=actor))
    if action:
        events = events.filter(action=action)
    if since:
        events = events.filter(
            created_at__gte=datetime.combine(since, datetime.min.time(), tzinfo=UTC)
        )
    if until:
        events = events.filter(
            created_at__lt=datetime.combine(
                until + timedelta(days=1), datetime.min.time(), tzinfo=UTC
            )
        )
    return events


def member_emails(organization: Organization) -> list[str]:
    return list(
        Membership.objects.filter(organization=organization)
        .order_by("user__email")
        .values_list("user__email", flat=True)
    )


def organization_members(organization: Organization, *, q: str = "") -> QuerySet[Membership]:
    """The members page: each person with their count of live tokens in this organisation, in
    one query (a filtered COUNT per row), admins first, then by name."""
    now = timezone.now()
    live_here = Q(
        user__tokens__organization=organization,
        user__tokens__revoked_at__isnull=True,
        # Service tokens they created are the organisation's, not theirs.
        user__tokens__service_account__isnull=True,
    ) & (Q(user__tokens__expires_at__isnull=True) | Q(user__tokens__expires_at__gt=now))
    members = (
        Membership.objects.filter(organization=organization)
        .select_related("user")
        .annotate(active_tokens=Count("user__tokens", filter=live_here))
        .order_by("role", "user__full_name", "user__email")
    )
    if q:
        members = members.filter(Q(user__full_name__icontains=q) | Q(user__email__icontains=q))
    return members


def pending_invitations(organization: Organization) -> QuerySet[Invitation]:
    return (
        Invitation.objects.for_org(organization)
        .pending()
        .select_related("invited_by")
        .order_by("-created_at", "-id")
    )


def plan_of(organization: Organization) -> dict[str, int]:
    """What the organisation's plan allows, and how many live tokens it has (one query)."""
    return {
        "production": organization.rate_ceiling("production"),
        "sandbox": organization.rate_ceiling("sandbox"),
        "max_tokens": organization.max_active_tokens,
        "live": PersonalAccessToken.objects.active().filter(organization=organization).count(),
    }


def production_requests(organization: Organization) -> QuerySet[ProductionAccessRequest]:
    """The organisation's production-access requests, newest first, with who asked/decided."""
    return ProductionAccessRequest.objects.filter(organization=organization).select_related(
        "requested_by", "decided_by"
    )


def service_accounts_of(organization: Organization) -> QuerySet[ServiceAccount]:
    """The service accounts page: each with its contact, creator and live token count, in one
    query; active ones first, then by name."""
    now = timezone.now()
    live = Q(tokens__revoked_at__isnull=True) & (
        Q(tokens__expires_at__isnull=True) | Q(tokens__expires_at__gt=now)
    )
    return (
        ServiceAccount.objects.filter(organization=organization)
        .select_related("contact", "created_by")
        .annotate(live_tokens=Count("tokens", filter=live))
        .order_by(F("archived_at").asc(nulls_first=True), Lower("name"), "id")
    )


def service_account_tokens(account: ServiceAccount) -> QuerySet[PersonalAccessToken]:
    return (
        PersonalAccessToken.objects.filter(service_account=account)
        .select_related("owner")
        .order_by(F("revoked_at").asc(nulls_first=True), "-created_at", "-id")
    )


def active_members(organization: Organization) -> list[User]:
    """Who can be a service account's contact: the organisation's active members, by name."""
    return list(
        User.objects.filter(memberships__organization=organization, is_active=True).order_by(
            "full_name", "email"
        )
    )
