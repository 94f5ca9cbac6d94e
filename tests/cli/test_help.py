"""Every command explains itself, and a wrong command is a usage error, not a traceback."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.prefect

COMMANDS = [
    (),
    ("incidents",),
    ("incidents", "show"),
    ("approve",),
    ("reject",),
    ("doctor",),
    ("init",),
    ("drill",),
    ("serve",),
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "firebreak")
def test_every_command_has_help_that_exits_zero(firebreak, command):
    result = firebreak(*command, "--help")
    assert result.code == 0, result.output
    assert "Usage:" in result.stdout
    assert "Traceback" not in result.output


def test_an_unknown_command_is_a_usage_error_naming_it(firebreak):
    result = firebreak("frobnicate")
    assert result.code == 2
    assert "frobnicate" in result.output
    assert "Traceback" not in result.output


def test_drill_without_a_scenario_lists_the_registered_drills(firebreak):
    from sandbox.drill_registry import DRILLS

    result = firebreak("drill")
    assert result.code == 0, result.output
    for scenario in DRILLS:
        assert scenario in result.stdout


def test_an_unknown_drill_fails_with_the_known_ones(firebreak):
    result = firebreak("drill", "no-such-scenario")
    assert result.code == 1
    assert "no drill named 'no-such-scenario'" in result.stderr
    assert "db-pool-exhaustion" in result.stderr
    assert "Traceback" not in result.output
