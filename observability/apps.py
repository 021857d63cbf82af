from django.apps import AppConfig


class ObservabilityConfig(AppConfig):
    name = "observability"
    verbose_name = "Observability"

    def ready(self) -> None:
        from observability import task_context, tracing

        task_context.connect()
        tracing.configure_from_environment()
