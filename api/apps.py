from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "api"
    verbose_name = "Partner API"

    def ready(self) -> None:
        # drf-spectacular finds extensions by import: the bearer scheme, our field types.
        from api import schema  # noqa: F401
