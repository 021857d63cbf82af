"""Settings for `make bench`: the portal's, plus the comparison endpoints.

The ceiling (an unauthenticated DRF view), the baseline (the same view behind DRF's own
TokenAuthentication, which needs rest_framework.authtoken's table) and the peers (the same view
behind django-rest-knox and djangorestframework-api-key, with their tables) exist only here, so
the product never ships them.
"""

from portal.settings import *  # noqa: F403
from portal.settings import INSTALLED_APPS, LOGGING

INSTALLED_APPS = [
    *INSTALLED_APPS,
    "rest_framework.authtoken",
    "knox",
    "rest_framework_api_key",
    "bench",
]
ROOT_URLCONF = "bench.urls"
# A benchmark of a debug server measures the debug toolbar of the mind: never.
DEBUG = False
# One log line per request would be part of what we measure; warnings still show.
LOGGING = {**LOGGING, "root": {**LOGGING["root"], "level": "WARNING"}}
