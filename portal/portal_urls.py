from django.contrib.auth import views as auth_views
from django.urls import path

from portal.views import (
    account,
    api_access,
    audit_export,
    auth,
    findings,
    members,
    organization,
    requests,
    second_factor,
    security,
    service_accounts,
    tokens,
    webhooks,
)

urlpatterns = [
    # Signing in and out, password reset, sudo confirmation
    path("login/", auth.SignInView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password-reset/", auth.ResetPasswordView.as_view(), name="password_reset"),
    path(
        "password-reset/sent/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "reset/<uidb64>/<token>/",
        auth.ResetPasswordConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "reset/done/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("login/two-factor/", second_factor.sign_in_second_step, name="login_second_step"),
    path(
        "login/two-factor/passkey/options/",
        second_factor.sign_in_passkey_options,
        name="login_passkey_options",
    ),
    path("login/two-factor/passkey/", second_factor.sign_in_passkey, name="login_passkey"),
    path("confirm-password/", second_factor.confirm, name="sudo"),
    path(
        "confirm-password/passkey/options/",
        second_factor.sudo_passkey_options,
        name="sudo_passkey_options",
    ),
    path("confirm-password/passkey/", second_factor.sudo_passkey, name="sudo_passkey"),
    # Tokens
    path("", tokens.dashboard, name="dashboard"),
    path("tokens/new/", tokens.new_token, name="token_new"),
    path("tokens/<int:token_id>/", tokens.token_detail, name="token_detail"),
    path("tokens/<int:token_id>/secret/", tokens.token_secret, name="token_secret"),
    path("tokens/<int:token_id>/settings/", tokens.token_settings, name="token_settings"),
    path("tokens/<int:token_id>/regenerate/", tokens.regenerate, name="token_regenerate"),
    path("tokens/<int:token_id>/revoke/", tokens.revoke, name="token_revoke"),
    # Anomaly findings
    path("findings/<int:anomaly_id>/", findings.finding, name="finding"),
    # Organisations
    path("orgs/", organization.organizations, name="organizations"),
    path("orgs/<slug:slug>/", organization.organization, name="organization"),
    path("orgs/<slug:slug>/tokens/", organization.organization_tokens, name="org_tokens"),
    path("orgs/<slug:slug>/policy/", organization.organization_policy, name="org_policy"),
    path("orgs/<slug:slug>/audit/", organization.organization_audit, name="org_audit"),
    path("orgs/<slug:slug>/requests/", requests.organization_requests, name="org_requests"),
    path(
        "orgs/<slug:slug>/requests/<int:token_id>/",
        requests.organization_request,
        name="org_request",
    ),
    path("orgs/<slug:slug>/audit.csv", audit_export.organization_audit_csv, name="org_audit_csv"),
    path("orgs/<slug:slug>/findings/", findings.organization_findings, name="org_findings"),
    path("orgs/<slug:slug>/api-access/", api_access.api_access, name="org_api_access"),
    path(
        "orgs/<slug:slug>/api-access/request/",
        api_access.request_production,
        name="org_api_request",
    ),
    # Service accounts (issue 17): organisation-owned tokens
    path(
        "orgs/<slug:slug>/service-accounts/",
        service_accounts.service_accounts,
        name="org_service_accounts",
    ),
    path(
        "orgs/<slug:slug>/service-accounts/new/",
        service_accounts.new_service_account,
        name="org_service_account_new",
    ),
    path(
        "orgs/<slug:slug>/service-accounts/<int:account_id>/",
        service_accounts.service_account,
        name="org_service_account",
    ),
    path(
        "orgs/<slug:slug>/service-accounts/<int:account_id>/contact/",
        service_accounts.change_contact,
        name="org_service_account_contact",
    ),
    path(
        "orgs/<slug:slug>/service-accounts/<int:account_id>/archive/",
        service_accounts.archive,
        name="org_service_account_archive",
    ),
    # People: the members page, invitations, roles, removing and leaving
    path("orgs/<slug:slug>/members/", members.members, name="org_members"),
    path("orgs/<slug:slug>/members/invite/", members.invite, name="org_invite"),
    path(
        "orgs/<slug:slug>/members/<int:membership_id>/role/",
        members.change_role,
        name="org_member_role",
    ),
    path(
        "orgs/<slug:slug>/members/<int:membership_id>/remove/",
        members.remove_member,
        name="org_member_remove",
    ),
    path(
        "orgs/<slug:slug>/invitations/<int:invitation_id>/resend/",
        members.resend_invitation,
        name="org_invitation_resend",
    ),
    path(
        "orgs/<slug:slug>/invitations/<int:invitation_id>/revoke/",
        members.revoke_invitation,
        name="org_invitation_revoke",
    ),
    path("orgs/<slug:slug>/leave/", members.leave, name="org_leave"),
    path(
        "orgs/<slug:slug>/two-factor/",
        security.organization_two_factor,
        name="org_two_factor",
    ),
    # Webhooks (admins)
    path("orgs/<slug:slug>/webhooks/", webhooks.webhooks, name="org_webhooks"),
    path("orgs/<slug:slug>/webhooks/new/", webhooks.new_webhook, name="org_webhook_new"),
    path("orgs/<slug:slug>/webhooks/<int:endpoint_id>/", webhooks.webhook, name="org_webhook"),
    path(
        "orgs/<slug:slug>/webhooks/<int:endpoint_id>/rotate/",
        webhooks.rotate_webhook_secret,
        name="org_webhook_rotate",
    ),
    path(
        "orgs/<slug:slug>/webhooks/<int:endpoint_id>/toggle/",
        webhooks.toggle_webhook,
        name="org_webhook_toggle",
    ),
    path(
        "orgs/<slug:slug>/webhooks/<int:endpoint_id>/delete/",
        webhooks.delete_webhook,
        name="org_webhook_delete",
    ),
    path(
        "orgs/<slug:slug>/webhooks/<int:endpoint_id>/test/",
        webhooks.test_webhook,
        name="org_webhook_test",
    ),
    path(
        "orgs/<slug:slug>/webhooks/<int:endpoint_id>/deliveries/<int:delivery_id>/resend/",
        webhooks.resend_delivery,
        name="org_webhook_resend",
    ),
    # Joining by invitation (the only sign-up): the emailed link, then a page without the secret
    path("invitations/accept/", members.accept_invitation, name="invitation_accept"),
    path("invitations/sign-out/", members.invitation_sign_out, name="invitation_sign_out"),
    path("invitations/<str:secret>/", members.invitation_link, name="invitation"),
    # Account
    path("account/", account.account, name="account"),
    path("account/password/", auth.ChangePasswordView.as_view(), name="password_change"),
    # Account > Security: second factors (issue 16)
    path("account/security/", security.security, name="security"),
    path("account/security/app/", security.totp_setup, name="totp_setup"),
    path(
        "account/security/passkeys/options/",
        security.passkey_options,
        name="passkey_register_options",
    ),
    path("account/security/passkeys/", security.passkey_register, name="passkey_register"),
    path("account/security/recovery-codes/", security.recovery_codes, name="recovery_codes"),
    path(
        "account/security/<str:kind>/<int:device_id>/remove/",
        security.remove_factor,
        name="factor_remove",
    ),
]
