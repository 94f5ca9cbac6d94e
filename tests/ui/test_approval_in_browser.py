"""A person approves in the real Prefect UI: headless Chromium, 1440x900, the resume modal.

Every planned backend's pid, reason and query start must be readable in the modal without
scrolling sideways, the decision must be an explicit choice with its description, and the
answer given there must be the one the run applies.
"""

from __future__ import annotations

import os
import shutil
from datetime import timedelta

import pytest
from prefect.settings import PREFECT_API_URL, temporary_settings

from flows.scenarios.db_pool_exhaustion import SCENARIO, db_pool_exhaustion
from sandbox.approver import wait_for_approval_request
from tests.fixtures.prefect_api import Background
from tests.flows.support import fast_policy, pool_alert
from tests.xdist_groups import SHARED_POSTGRES

pytestmark = [pytest.mark.prefect, pytest.mark.xdist_group(SHARED_POSTGRES)]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# as root, without the sandbox; no background traffic: this machine has no network
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        message = "no Chromium: apt-get install chromium (CI installs it)"
        pytest.fail(message) if os.environ.get("CI") else pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield chromium
        chromium.close()


def within(inner: dict, outer: dict) -> bool:
    return (
        inner["x"] >= outer["x"] - 1
        and inner["x"] + inner["width"] <= outer["x"] + outer["width"] + 1
    )


def test_an_approval_given_in_the_prefect_ui_form_is_the_one_applied(
    browser, prefect_server, postgres_target, incident_store, record, tmp_path, pool_exhaustion
):
    with temporary_settings({PREFECT_API_URL: prefect_server.api_url}):
        run = Background(
            db_pool_exhaustion,
            alert=pool_alert(),
            database=postgres_target,
            store=incident_store,
            slack=None,
            policy=fast_policy(approval_timeout=timedelta(minutes=10)),  # a browser is slow
            return_state=True,
        )
        incident_id, run_id, digest = wait_for_approval_request(record, SCENARIO)
        [plan] = record.plans(incident_id)[:1]

        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.goto(f"{prefect_server.ui_url}/runs/flow-run/{run_id}", wait_until="networkidle")
        page.get_by_role("button", name="Resume").click()
        modal = page.locator(".p-modal__card")
        modal.wait_for()
        frame = modal.bounding_box()
        body = page.locator(".p-modal__body")
        width, visible = body.evaluate("e => [e.scrollWidth, e.clientWidth]")
        assert width <= visible, f"the modal scrolls sideways: {width} > {visible} px"
        assert body.get_by_text(digest).first.is_visible()
        for item in plan.items:
            heading = body.get_by_text(f"pid {item['pid']} —").first
            heading.scroll_into_view_if_needed()
            assert heading.is_visible() and within(heading.bounding_box(), frame), item["pid"]
            for text in (f"why: {item['reason']}", "query started:"):
                line = heading.locator("xpath=following::li").filter(has_text=text).first
                line.scroll_into_view_if_needed()
                assert line.is_visible() and within(line.bounding_box(), frame), (item["pid"], text)
        assert body.get_by_text("approve: run exactly the plan described above").is_visible()
        assert body.get_by_text("Plan Digest").count() == 0
        assert body.get_by_text("Approve (Optional)").count() == 0

        decision = page.locator(".schema-form-property").filter(has_text="Decision").first
        decision.locator("button.p-select-button__control").focus()
        page.keyboard.press("ArrowDown")
        page.get_by_role("option", name="approve").click()
        approver = page.locator(".schema-form-property").filter(has_text="Approver").first
        approver.locator("textarea, input").first.fill("alice")
        page.get_by_role("button", name="Submit").click()
        try:
            modal.wait_for(state="hidden", timeout=30_000)  # the UI accepted the answer
        except Exception:
            page.screenshot(path=str(tmp_path / "resume-modal.png"))
            raise
        state = run.join(timeout=180)
        page.close()

    assert state.name == "Resolved", state.message
    [approval] = record.approvals(incident_id)
    assert (approval["decision"], approval["approver"], approval["plan_digest"]) == (
        "approved",
        "alice",
        digest,
    )
    assert not pool_exhaustion.alive() & pool_exhaustion.offending
    assert not pool_exhaustion.untouched()
