"""Revoke a token from the command line, by its display prefix or id."""

from django.core.management.base import BaseCommand, CommandError

from tokens import format as token_format
from tokens import services
from tokens.actors import Actor
from tokens.models import PersonalAccessToken


class Command(BaseCommand):
    help = "Revoke a personal access token by display prefix (qgp_AbC1) or id."

    def add_arguments(self, parser) -> None:
        parser.add_argument("token", metavar="PREFIX_OR_ID")
        parser.add_argument("--reason", required=True)

    def handle(self, *args, **options) -> None:
        token = self._find(options["token"].strip())
        if not options["reason"].strip():
            raise CommandError("--reason must say why")
        if token.revoked_at is not None:
            self.stderr.write(f"Token {token.id} ({token.display_prefix}…) was already revoked.")
            return
        services.revoke_token(
            token, actor=Actor.cli("manage.py revoke_token"), reason=options["reason"], kind="ops"
        )
        self.stdout.write(f"Revoked token {token.id} “{token.name}” ({token.display_prefix}…)")

    def _find(self, key: str) -> PersonalAccessToken:
        if token_format.is_well_formed(key):
            raise CommandError(
                "That is a whole token: give its display prefix (first 8 characters) or id, "
                "so the secret does not end up in shell history. Report a leak through the API."
            )
        if key.isdigit():
            tokens = PersonalAccessToken.objects.filter(pk=int(key))
        elif key.startswith(token_format.PREFIX) and len(key) == 8:
            tokens = PersonalAccessToken.objects.filter(display_prefix=key)
        else:
            raise CommandError("Give a display prefix like qgp_AbC1 or a numeric id")
        found = list(tokens[:2])
        if not found:
            raise CommandError(f"No token {key}")
        if len(found) > 1:
            raise CommandError(f"Several tokens start with {key}: give the id instead")
        return found[0]
