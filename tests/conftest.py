"""The real local stack: Prefect API, PostgreSQL, Redis, Kubernetes, Slack stub."""

import os

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_TO_API_BATCH_INTERVAL", "0.3")
os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")
# The session's API is one SQLite-backed process shared by every test on a loaded 2-core
# machine: a state change can take over the client's default 60 s. The client then retries,
# the first attempt has already gone through, and the retry is rejected ("already made this
# state transition"): a pause that ends its run, a result that comes back empty. Waiting
# longer is the cure here; nothing in a test may depend on an API call being quick.
os.environ.setdefault("PREFECT_API_REQUEST_TIMEOUT", "300")

pytest_plugins = [
    "tests.group_locks",
    "tests.fixtures.prefect_api",
    "tests.fixtures.prefect_server",
    "tests.fixtures.postgres",
    "tests.fixtures.postgres_cluster",
    "tests.fixtures.redis",
    "tests.fixtures.kubernetes",
    "tests.fixtures.k8s_targets",
    "tests.fixtures.slack",
    "tests.fixtures.notify_stubs",
    "tests.fixtures.cli",
    "tests.fixtures.drill_targets",
    "tests.fixtures.prefect_cluster",
    "tests.fixtures.receiver",
    "tests.fixtures.alertmanager",
    "tests.fixtures.tcp_proxy",
    "tests.fixtures.http_stub",
    "tests.fixtures.prometheus",
]
