"""Observability: request ids, per-request metrics, /metrics, structured logs, optional tracing.

Above every app it watches (it reads the outbox, the usage stream, anomalies and tokens to
report their state), below the edges that mount its view.
"""
