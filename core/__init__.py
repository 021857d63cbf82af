"""Infrastructure every app uses, importing no app of ours: client addresses (net), the hot
path's Redis connection (hotredis), batched deletes and PostgreSQL-only migration steps (db,
migration_ops), Django's PostgreSQL backend with a cheaper health check (postgresql), and the
ops console's shared admin pieces (admin_utils).

Like healthchecks' hc/lib: plain modules, not a Django app; nothing here knows what a token,
an organisation or a spreader is."""
