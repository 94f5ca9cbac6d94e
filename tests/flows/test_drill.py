"""The quick start's drill: a real fault, the real response, a scorecard that can fail."""

from __future__ import annotations

import pytest

from flows.drill import run_db_pool_drill
from tests.xdist_groups import SHARED_POSTGRES

pytestmark = [pytest.mark.prefect, pytest.mark.xdist_group(SHARED_POSTGRES)]


def test_the_drill_injects_responds_approves_and_scores_every_check(prefect_api, admin_dsn):
    report = run_db_pool_drill(admin_dsn, approve_after=0)
    assert report.passed, report.render()
    essential = ("declared", "approval asked", "offending", "bystander", "resolution posted")
    for word in essential:
        assert any(word in name for name in report.checks), (word, list(report.checks))
    assert report.state == "Resolved"
    metrics = report.metrics
    assert metrics["time_to_detect"] <= metrics["time_to_mitigate"] <= metrics["time_to_resolve"]
    assert "PASSED" in report.render() and report.incident_id in report.render()
