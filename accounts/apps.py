from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """People (email is the login), organisations and memberships.

    The label stays "portal", where these models were born: table names (portal_user, …),
    the migration history and AUTH_USER_MODEL = "portal.User" all keep working unchanged.
    """

    name = "accounts"
    label = "portal"
    verbose_name = "Accounts and organisations"
