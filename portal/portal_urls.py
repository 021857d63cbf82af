from django.contrib.auth import views as auth_views
from django.urls import path

from portal.views import account, auth, findings, members, organization, service_accounts, tokens

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
    path("confirm-password/", auth.confirm_password, name="sudo"),
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
    path("orgs/<slug:slug>/findings/", findings.organization_findings, name="org_findings"),
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
    # Joining by invitation (the only sign-up): the emailed link, then a page without the secret
    path("invitations/accept/", members.accept_invitation, name="invitation_accept"),
    path("invitations/sign-out/", members.invitation_sign_out, name="invitation_sign_out"),
    path("invitations/<str:secret>/", members.invitation_link, name="invitation"),
    # Account
    path("account/", account.account, name="account"),
    path("account/password/", auth.ChangePasswordView.as_view(), name="password_change"),
]
