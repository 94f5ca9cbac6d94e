"""``firebreak drill``: progress while it runs, the scorecard at the end, exit 0 on a pass."""

from __future__ import annotations

import pytest

from tests.fixtures.postgres import ADMIN_DSN

pytestmark = pytest.mark.prefect


def test_drill_shows_each_step_as_it_happens_then_a_passing_scorecard(firebreak, admin_dsn):
    result = firebreak("drill", "db-pool-exhaustion", env={"FIREBREAK_ADMIN_DSN": ADMIN_DSN})
    assert result.code == 0, result.output[-4000:]
    out = result.stdout
    scorecard_at = out.index("scorecard")
    progress = out[:scorecard_at]
    for step in ("declare/declared", "mitigate/approval", "mitigate/apply", "postmortem"):
        assert step in progress, step  # printed while the drill ran, before the scorecard
    assert "FAIL" not in out[scorecard_at:]
    assert "PASSED" in out[scorecard_at:]
    assert "time to detect" in out[scorecard_at:]
