"""An answer that arrives the instant a run pauses, before its form is saved, still lands.

``pause_flow_run`` sets the run Paused, then saves the form's schema; the API rejects a
resume in between ("Run input schema not found"). A drill approving at once met this in CI
and the incident waited out its whole approval timeout.
"""

from __future__ import annotations

import threading
import time

import pytest
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.input.run_input import keyset_from_paused_state
from prefect.states import Paused

from flows.answer import ApprovalInput, SubmitOutcome, pause_key, submit_decision

pytestmark = pytest.mark.prefect

DIGEST = "0123456789abcdef"


@flow
def _paused_on_purpose() -> None:  # never run: only its flow run is created
    pass


def _paused_run_without_form():  # type: ignore[no-untyped-def]
    """A run Paused on an approval's key whose form schema is not saved yet."""
    with get_client(sync_client=True) as client:
        run = client.create_flow_run(_paused_on_purpose, parameters={})
        state = Paused(reschedule=False, pause_key=pause_key(DIGEST), timeout_seconds=600)
        state.state_details.run_input_keyset = keyset_from_paused_state(state)
        client.set_flow_run_state(run.id, state, force=True)
        return run.id, state.state_details.run_input_keyset


def test_an_answer_before_the_form_exists_waits_for_it_and_is_accepted(prefect_api):
    run_id, keyset = _paused_run_without_form()
    saved = threading.Event()

    def save_the_form_late() -> None:
        time.sleep(2)
        ApprovalInput.save(keyset, flow_run_id=run_id)
        saved.set()

    threading.Thread(target=save_the_form_late, daemon=True).start()
    result = submit_decision(
        run_id, plan_digest=DIGEST, decision="approve", approver="fast-clicker"
    )

    assert saved.is_set()
    assert result.outcome is SubmitOutcome.ACCEPTED, result.message
    with get_client(sync_client=True) as client:
        assert client.read_flow_run(run_id).state.is_running()


def test_an_answer_for_another_plan_is_refused_at_once_without_waiting(prefect_api):
    run_id, _ = _paused_run_without_form()
    result = submit_decision(
        run_id, plan_digest="fedcba9876543210", decision="approve", approver="x"
    )

    assert result.outcome is SubmitOutcome.OTHER_PLAN
    with get_client(sync_client=True) as client:
        assert client.read_flow_run(run_id).state.is_paused()
