"""The credentials the HTTP benchmark presents: a DRF token (baseline), a knox token and an
api-key key (peers), and a Quaygate PAT."""

from dataclasses import dataclass

from django.utils import timezone
from knox.models import AuthToken
from rest_framework.authtoken.models import Token
from rest_framework_api_key.models import APIKey

from bench.generators import BenchOrg
from tokens import scopes, services
from tokens.actors import Actor

# Far above what a few minutes of wrk sends: the benchmark measures the rate limiter's cost,
# not its refusals (a 429 is cheaper than a 200 and would flatter the figures).
BENCH_RATE_LIMIT = services.MAX_RATE_LIMIT


@dataclass(frozen=True)
class Credentials:
    drf_token: str
    knox_token: str
    api_key: str
    pat: str  # the secret; passed to wrk, never printed

    def __repr__(self) -> str:
        return "Credentials(…)"


def credentials(bench: BenchOrg) -> Credentials:
    drf_token, _ = Token.objects.get_or_create(user=bench.admin)
    _, knox_token = AuthToken.objects.create(user=bench.admin, expiry=None)
    _, api_key = APIKey.objects.create_key(name="bench")
    issued = services.issue_token(
        owner=bench.admin,
        organization=bench.organization,
        name=f"bench {timezone.now():%Y-%m-%d %H:%M:%S.%f}",
        scopes=list(scopes.ALL_SCOPES),
        actor=Actor.cli("make bench"),
        rate_limit_per_hour=BENCH_RATE_LIMIT,
    )
    return Credentials(
        drf_token=drf_token.key, knox_token=knox_token, api_key=api_key, pat=issued.secret
    )
