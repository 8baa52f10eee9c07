"""gateway_project's settings with rate limits and budgets on for every request (``python -m
bench.inprocess openai --settings bench.settings_everything_on``): a requests and a tokens limit
and a daily and a monthly budget per user, all too high to refuse the benchmark, so each request
pays the full admission (one Lua script on Redis) and settlement (a second one). Set REDIS_URL
(and ``--database-url`` a PostgreSQL one) for the production wiring; without it the limits are
counted in the process's memory."""

from gateway_project.settings import *  # noqa: F403

AI_DEFAULT_RPM = 100_000_000
AI_DEFAULT_TPM = 100_000_000_000
AI_DEFAULT_DAILY_BUDGET_USD = "1000000"
AI_DEFAULT_MONTHLY_BUDGET_USD = "10000000"
