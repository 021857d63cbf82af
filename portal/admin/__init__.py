"""The ops console (Django admin): one module per app whose rows it shows.

Admin is an edge, like the portal's views: it lives here, above every domain app, so it may
import any of them (the Anomaly filter on tokens, the revoke action shared by the token,
usage and anomaly lists) without a lower app importing a higher one. Django's autodiscovery
imports this package; importing the modules registers their ModelAdmins.
"""

from portal.admin import (  # noqa: F401
    access,
    accounts,
    audit_chain,
    changelog,
    fleet,
    members,
    notifications,
    telemetry,
    tokens,
    two_factor,
    webhooks,
)
