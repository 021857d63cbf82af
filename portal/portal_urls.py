from django.contrib.auth import views as auth_views
from django.urls import path

from portal.views import account, auth, findings, organization, tokens

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
    # Account
    path("account/", account.account, name="account"),
    path("account/password/", auth.ChangePasswordView.as_view(), name="password_change"),
]
