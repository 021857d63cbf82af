from django.apps import AppConfig


class FleetConfig(AppConfig):
    """Terminals, spreaders, their readings, alarms and maintenance: the data the API serves."""

    name = "fleet"
    verbose_name = "Fleet"
