"""Argon2 at its lowest cost, for the test process: the same algorithm and hash format.

Production's Argon2 (portal.settings) costs ~150 ms a hash on these two cores, and most tests
make two to five people in their setup (and sign some in). Argon2 keeps its parameters in the
hash, so a hash made here still verifies in a server or worker a test starts (with the
production hasher), and one made there verifies here. Production's cost is checked where it is
set (tests/portal/test_settings.py).
"""

from django.contrib.auth.hashers import Argon2PasswordHasher


class CheapArgon2PasswordHasher(Argon2PasswordHasher):
    time_cost = 1
    memory_cost = 8  # KiB: argon2's least for one lane
    parallelism = 1
