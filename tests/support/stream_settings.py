"""portal.settings with the usage stream named by QUAYGATE_TEST_USAGE_STREAM_KEY, for a server a
test starts: it writes to that test's own stream, never into entries another test left behind
(whose tokens the test database no longer has)."""

import os

from portal.settings import *  # noqa: F403
from portal.settings import QUAYGATE

QUAYGATE = {**QUAYGATE, "USAGE_STREAM_KEY": os.environ["QUAYGATE_TEST_USAGE_STREAM_KEY"]}
