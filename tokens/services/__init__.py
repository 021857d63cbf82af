"""Every change to a token happens here, and only here.

Each service checks who may do it and what the organisation's policy allows, writes the change
and its AuditEvent in one transaction, queues the owner's email in that same transaction (the
outbox), and drops the token's cached state once the transaction commits, so the very next API
request anywhere sees the change. Portal views, API views, admin actions, management commands
and Celery tasks call these functions; none repeats their steps.

Import from here (`from tokens import services`), not from the modules: they are split by
concern and may move, this surface stays.

    audit        record_audit_event: the one builder of AuditEvent rows
    validation   what a token's settings may be (the clean_* rules and their limits)
    policy       policy_for, update_token_policy
    issue        issue_token
    regenerate   regenerate_token (and rotation, when the token asks itself)
    update       update_token: the settings that carry no power
    revoke       revoke_token, revoke_member_tokens, expire_due_tokens, revoke_unused_tokens
    approval     approval_for (used by issue), approve_token, deny_token,
                 expire_pending_requests (issue 17)
    access       set_api_access, set_plan (issue 15: the entitlement and the plan, by ops)
    access_requests  request_production_access, approve_ / decline_production_request
    service_accounts  create_service_account, change_contact, archive_service_account,
                 issue_service_token, release_contact (issue 17: organisation-owned tokens)
    exposure     report_leaked_credentials (LeakedCredential), record_token_in_url,
                 record_auth_failure
    sandbox      reset_sandbox (issue 15: the sandbox fleet's fixtures, restored)
"""

from tokens.services._common import DEFAULT_EXPIRY, IssuedToken, hash_secret
from tokens.services.access import InvalidApiAccess, api_access_page, set_api_access, set_plan
from tokens.services.access_requests import (
    AccessRequestError,
    AccessRequestForbidden,
    approve_production_request,
    decline_production_request,
    open_request_of,
    request_production_access,
)
from tokens.services.approval import approve_token, deny_token, expire_pending_requests
from tokens.services.audit import record_audit_event
from tokens.services.exposure import (
    LeakedCredential,
    record_auth_failure,
    record_token_in_url,
    report_leaked_credentials,
)
from tokens.services.issue import issue_token
from tokens.services.policy import policy_for, update_token_policy
from tokens.services.regenerate import MAX_OVERLAP_HOURS, regenerate_token
from tokens.services.revoke import (
    expire_due_tokens,
    revoke_member_tokens,
    revoke_token,
    revoke_unused_tokens,
)
from tokens.services.sandbox import reset_sandbox
from tokens.services.service_accounts import (
    archive_service_account,
    change_contact,
    create_service_account,
    issue_service_token,
    release_contact,
)
from tokens.services.update import update_token
from tokens.services.validation import MAX_ALLOWED_IPS, MAX_LIFETIME_DAYS, MAX_RATE_LIMIT

__all__ = [
    "DEFAULT_EXPIRY",
    "MAX_ALLOWED_IPS",
    "MAX_LIFETIME_DAYS",
    "MAX_OVERLAP_HOURS",
    "MAX_RATE_LIMIT",
    "AccessRequestError",
    "AccessRequestForbidden",
    "InvalidApiAccess",
    "IssuedToken",
    "LeakedCredential",
    "api_access_page",
    "approve_production_request",
    "approve_token",
    "archive_service_account",
    "change_contact",
    "create_service_account",
    "decline_production_request",
    "deny_token",
    "expire_due_tokens",
    "expire_pending_requests",
    "hash_secret",
    "issue_service_token",
    "issue_token",
    "open_request_of",
    "policy_for",
    "record_audit_event",
    "record_auth_failure",
    "record_token_in_url",
    "regenerate_token",
    "release_contact",
    "report_leaked_credentials",
    "request_production_access",
    "reset_sandbox",
    "revoke_member_tokens",
    "revoke_token",
    "revoke_unused_tokens",
    "set_api_access",
    "set_plan",
    "update_token",
    "update_token_policy",
]
