"""Ops console, issue 15: an organisation's API access level and plan, inviting a new
customer's first organisation admin, and the production-access requests organisation admins
send from the portal.

Nothing here writes a row itself. The level and the plan change through
tokens.services.set_api_access / set_plan (audit event, admins' email, cached token states
dropped); a request is approved or declined through tokens.services (which raise the level,
audit and email). Both need a reason. The permission is `portal.change_api_access` for the
level and plan, `tokens.change_productionaccessrequest` for deciding; the Ops group has both.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from accounts.models import Membership, Organization
from core.errors import ServiceError
from members import invitations as invitation_services
from tokens import services as token_services
from tokens.actors import Actor
from tokens.models import ProductionAccessRequest
from tokens.services.validation import MAX_RATE_LIMIT

CHANGE_ACCESS = "portal.change_api_access"
DECIDE = "tokens.change_productionaccessrequest"


# --- an organisation's level and plan ---------------------------------------------------------


class ApiAccessForm(forms.Form):
    api_access = forms.ChoiceField(
        label="API access", choices=Organization.ApiAccess.choices, widget=forms.RadioSelect
    )
    plan_rate_limit_per_hour = forms.IntegerField(
        label="Hourly ceiling, production tokens",
        required=False,
        min_value=1,
        max_value=MAX_RATE_LIMIT,
    )
    plan_sandbox_rate_limit_per_hour = forms.IntegerField(
        label="Hourly ceiling, sandbox tokens",
        required=False,
        min_value=1,
        max_value=MAX_RATE_LIMIT,
    )
    plan_max_active_tokens = forms.IntegerField(
        label="Most live tokens",
        required=False,
        min_value=1,
        max_value=token_services.access.MAX_PLAN_TOKENS,
    )
    reason = forms.CharField(
        label="Reason",
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Required. It stays in the audit log; a level change's reason is in the email "
        "the organisation's admins get. Never paste a secret here.",
    )

    def __init__(self, *args, organization: Organization, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for name, kind in (
            ("plan_rate_limit_per_hour", "production"),
            ("plan_sandbox_rate_limit_per_hour", "sandbox"),
        ):
            self.fields[
                name
            ].help_text = (
                f"Empty: the site's default. Now {organization.rate_ceiling(kind):,} per hour."
            )
        self.fields["plan_max_active_tokens"].help_text = (
            f"Empty: the site's default. Now {organization.max_active_tokens:,}. Lowering it "
            "revokes nothing; it refuses new tokens until fewer are live."
        )


def api_access_view(
    model_admin: admin.ModelAdmin, request: HttpRequest, object_id: str
) -> HttpResponse:
    """The "API access and plan" page of one organisation: a form, then the services."""
    if not request.user.has_perm(CHANGE_ACCESS):
        raise PermissionDenied
    organization = get_object_or_404(Organization, pk=object_id)
    initial = {"api_access": organization.api_access} | {
        name: getattr(organization, name) for name in token_services.access.PLAN_FIELDS
    }
    form = ApiAccessForm(
        request.POST if request.method == "POST" else None,
        initial=initial,
        organization=organization,
    )
    if request.method == "POST" and form.is_valid():
        done = _apply_access(model_admin, request, organization, form.cleaned_data)
        if done is not None:
            return HttpResponseRedirect(
                reverse("admin:portal_organization_change", args=[organization.pk])
            )
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "original": organization,
        "title": f"API access and plan of {organization.name}",
        "form": form,
        "requests": list(
            ProductionAccessRequest.objects.filter(organization=organization).select_related(
                "requested_by", "decided_by"
            )[:10]
        ),
    }
    request.current_app = model_admin.admin_site.name
    return TemplateResponse(request, "admin/organization_api_access.html", context)


def _apply_access(model_admin, request, organization: Organization, data: dict) -> bool | None:
    """Both changes through their services; None (and an error message) when one refused."""
    actor = Actor.from_request(request, ops=True)
    try:
        level_changed = token_services.set_api_access(
            organization, level=data["api_access"], actor=actor, reason=data["reason"]
        )
        plan_changed = token_services.set_plan(
            organization,
            actor=actor,
            reason=data["reason"],
            **{name: data[name] for name in token_services.access.PLAN_FIELDS},
        )
    except ServiceError as error:
        model_admin.message_user(request, f"Not changed: {error.message}", messages.ERROR)
        return None
    if level_changed:
        model_admin.message_user(
            request,
            f"{organization.name}'s API access is now “{organization.get_api_access_display()}”; "
            "its admins are being emailed, and every node sees it on the next request.",
            messages.SUCCESS,
        )
    if plan_changed:
        model_admin.message_user(request, f"{organization.name}'s plan is saved.", messages.SUCCESS)
    if not (level_changed or plan_changed):
        model_admin.message_user(request, "Nothing changed.", messages.INFO)
    return level_changed or plan_changed


def api_access_summary(organization: Organization) -> str:
    """The level and plan on the organisation's page, with the link to change them."""
    if organization.pk is None:
        return "Set after the organisation is saved (it starts with no API access)."
    url = reverse("admin:portal_organization_api_access", args=[organization.pk])
    return format_html(
        "<strong>{}</strong> · {} / {} requests per hour (production / sandbox tokens) · "
        'up to {} live tokens<br><a class="button" href="{}">Change API access and plan…</a> '
        '<a class="button" href="{}">Invite an organisation admin…</a>',
        organization.get_api_access_display(),
        f"{organization.rate_ceiling('production'):,}",
        f"{organization.rate_ceiling('sandbox'):,}",
        f"{organization.max_active_tokens:,}",
        url,
        reverse("admin:portal_organization_invite_admin", args=[organization.pk]),
    )


def api_access_urls(model_admin: admin.ModelAdmin) -> list:
    site = model_admin.admin_site
    access = site.admin_view(
        lambda request, object_id: api_access_view(model_admin, request, object_id)
    )
    invite = site.admin_view(
        lambda request, object_id: invite_admin_view(model_admin, request, object_id)
    )
    return [
        path("<path:object_id>/api-access/", access, name="portal_organization_api_access"),
        path("<path:object_id>/invite-admin/", invite, name="portal_organization_invite_admin"),
    ]


# --- onboarding: the first organisation admin -------------------------------------------------


class InviteAdminForm(forms.Form):
    email = forms.EmailField(
        label="Email",
        help_text="They get an email with a link that works once, for 7 days, and join as an "
        "organisation admin; from then on the organisation runs itself in the portal.",
    )


def invite_admin_view(
    model_admin: admin.ModelAdmin, request: HttpRequest, object_id: str
) -> HttpResponse:
    """Invite an organisation admin (a new customer's first) through members.invitations, as
    ops: the same invitation, audit event and email as an admin's invitation in the portal."""
    if not request.user.has_perm("portal.change_organization"):
        raise PermissionDenied
    organization = get_object_or_404(Organization, pk=object_id)
    form = InviteAdminForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            issued = invitation_services.invite_member(
                organization,
                email=form.cleaned_data["email"],
                role=Membership.Role.ADMIN,
                actor=Actor.from_request(request, ops=True),
            )
        except ServiceError as error:
            form.add_error("email", error.message)
        else:
            model_admin.message_user(
                request,
                f"Invitation sent to {issued.invitation.email}: they join {organization.name} "
                "as an organisation admin from the emailed link.",
                messages.SUCCESS,
            )
            return HttpResponseRedirect(
                reverse("admin:portal_organization_change", args=[organization.pk])
            )
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "original": organization,
        "title": f"Invite an organisation admin to {organization.name}",
        "form": form,
        "page": "invite",
    }
    request.current_app = model_admin.admin_site.name
    return TemplateResponse(request, "admin/organization_invite_admin.html", context)


# --- production-access requests ---------------------------------------------------------------


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(
        choices=[("approve", "Approve: grant production access"), ("decline", "Decline")],
        widget=forms.RadioSelect,
    )
    reason = forms.CharField(
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Required. The organisation's admins read it in the decision email.",
    )


class OpenFirst(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [*ProductionAccessRequest.State.choices, ("all", "All")]

    def choices(self, changelist):
        # "Open" is what ops come for: the list starts there.
        value = self.value() or "open"
        for lookup, title in self.lookup_choices:
            yield {
                "selected": value == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request, queryset):
        value = self.value() or "open"
        return queryset if value == "all" else queryset.filter(state=value)


@admin.register(ProductionAccessRequest)
class ProductionAccessRequestAdmin(admin.ModelAdmin):
    list_display = ["organization", "requested_by", "created_at", "state", "current_level"]
    list_filter = [OpenFirst, ("organization__api_access", admin.ChoicesFieldListFilter)]
    list_select_related = ["organization", "requested_by"]
    search_fields = ["organization__name", "organization__slug", "requested_by__email"]
    readonly_fields = [
        "organization",
        "current_level",
        "requested_by",
        "created_at",
        "description",
        "state",
        "decided_by",
        "decided_at",
        "decision_reason",
    ]
    fields = readonly_fields
    show_facets = admin.ShowFacets.NEVER
    change_form_template = "admin/production_request_change_form.html"

    @admin.display(description="API access now")
    def current_level(self, obj: ProductionAccessRequest) -> str:
        return obj.organization.get_api_access_display()

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # organisation admins ask in the portal

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # the decision is history

    def has_change_permission(self, request, obj=None) -> bool:
        # "change" means "may decide"; every field stays read-only.
        return request.user.has_perm(DECIDE)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        access_request = get_object_or_404(
            ProductionAccessRequest.objects.select_related("organization"), pk=object_id
        )
        decision = DecisionForm(request.POST if "_decide" in request.POST else None)
        if "_decide" in request.POST:
            if not request.user.has_perm(DECIDE):
                raise PermissionDenied
            if decision.is_valid():
                self._decide(request, access_request, decision.cleaned_data)
            else:
                self.message_user(
                    request,
                    "Nothing changed: choose approve or decline, and give a reason.",
                    messages.ERROR,
                )
            return HttpResponseRedirect(request.path)
        extra = {"decision_form": decision, "is_open": access_request.is_open}
        extra["may_decide"] = request.user.has_perm(DECIDE)
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **extra})

    def _decide(self, request, access_request: ProductionAccessRequest, data: dict) -> None:
        actor = Actor.from_request(request, ops=True)
        decide = (
            token_services.approve_production_request
            if data["decision"] == "approve"
            else token_services.decline_production_request
        )
        try:
            decided = decide(access_request, actor=actor, reason=data["reason"])
        except ServiceError as error:
            self.message_user(request, f"Nothing changed: {error.message}", messages.ERROR)
            return
        organization = decided.organization
        self.message_user(
            request,
            f"{decided.get_state_display()}: {organization.name} is now at "
            f"“{organization.get_api_access_display()}”; its admins are being emailed.",
            messages.SUCCESS,
        )
