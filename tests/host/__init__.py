"""A second host project for the host-safety tests: what a user's own Django project looks
like (SecurityMiddleware, its own middleware, an ORM-using request_started receiver, its own
view under /api/v1/auth/, ai.urls included twice, no DEFAULT_SCHEMA_CLASS)."""
