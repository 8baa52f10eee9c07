"""The tests' settings with a default limit of 10 requests a minute, for the gateway processes
that tests/governance/test_processes.py starts."""

from tests.settings import *  # noqa: F403

AI_DEFAULT_RPM = 10
