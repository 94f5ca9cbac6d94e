"""The sweep: every open incident's channels are told what is due, from the record alone.

A short flow, scheduled every minute or so (``python -m flows.notify_due`` serves it; a
deployment in ``prefect.yaml`` does the same on a worker). For each open incident (and each
closed in the last ``IncidentPolicy.sweep_lookback``, so a resolution is still announced)
it runs every channel plugin of `flows.reactions`: the incident's own Slack channel, roles,
stakeholders, pages, the status page, escalations on runbook 002's matrix, and status
updates at the severity's cadence. Because the record is the only input, it works the same
while an incident's flow is running, paused for an approval, or dead.

Idempotent and safe to run twice at once: everything sent is in the timeline, and each
incident is handled under a PostgreSQL advisory lock, so a second sweep (or the engine's
immediate `react` after a status change) skips an incident another one is handling.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator, Sequence
from datetime import datetime
from types import ModuleType

import psycopg
from prefect import flow

from blocks.loading import resolve_block
from blocks.pager import PagerDutyService
from blocks.policy import IncidentPolicyBlock
from blocks.slack import SlackWorkspace
from blocks.statuspage import StatusPage
from blocks.store import IncidentStore
from flows.reactions import PLUGINS, Channels, Situation
from incident.errors import TransientError
from incident.models import utcnow
from incident.policy import IncidentPolicy
from incident.record import IncidentRecord
from incident.redact import redact
from incident.templates import templates_for
from tasks.logs import run_logger

__all__ = ["IncidentLocks", "notify_due", "react", "react_now"]


class IncidentLocks:
    """One PostgreSQL session holding per-incident advisory locks for the sweep's duration."""

    def __init__(self, dsn: str, schema: str) -> None:
        self._dsn, self._schema = dsn, schema
        self._conn: psycopg.Connection | None = None

    def __enter__(self) -> IncidentLocks:
        try:
            self._conn = psycopg.connect(self._dsn, autocommit=True, connect_timeout=5)
        except psycopg.OperationalError as exc:
            raise TransientError(
                f"incident record database unreachable for locking: {redact(str(exc), self._dsn)}"
            ) from None
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._conn is not None:
            self._conn.close()  # releases every session lock

    @contextlib.contextmanager
    def hold(self, incident_id: str) -> Iterator[bool]:
        """Yield whether this session got the incident's lock (False: someone else has it)."""
        assert self._conn is not None, "use IncidentLocks as a context manager"
        key = f"firebreak-notify:{self._schema}:{incident_id}"
        row = self._conn.execute("SELECT pg_try_advisory_lock(hashtext(%s))", (key,)).fetchone()
        got = bool(row and row[0])
        try:
            yield got
        finally:
            if got:
                self._conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (key,))


def react(
    record: IncidentRecord,
    incident_id: str,
    channels: Channels,
    policy: IncidentPolicy,
    *,
    now: datetime | None = None,
    plugins: Sequence[ModuleType] = PLUGINS,
) -> list[str]:
    """Run every channel plugin for one incident; the steps completed. A plugin that fails
    is logged and recorded and does not keep the others from running."""
    situation = Situation(
        record=record,
        row=record.get_incident(incident_id),
        timeline=record.timeline(incident_id),
        policy=policy,
        channels=channels,
        now=now or utcnow(),
    )
    for plugin in plugins:
        name = plugin.__name__.rsplit(".", 1)[-1]
        try:
            plugin.react(situation)
        except Exception as exc:  # one channel's bug must not silence the others
            run_logger().exception("channel %s failed for %s", name, incident_id)
            with contextlib.suppress(Exception):
                situation.note(
                    "communicate",
                    f"notify:{name}",
                    "failed",
                    f"the {name} channel failed: {type(exc).__name__}: {exc}",
                )
    return situation.done


def react_now(
    store: IncidentStore,
    incident_id: str,
    channels: Channels,
    policy: IncidentPolicy,
    *,
    now: datetime | None = None,
) -> list[str] | None:
    """For the engine, right after it changed an incident: what the sweep would do, now.

    Takes the incident's lock like the sweep does; None if a sweep is handling it already
    (it will see the change itself). Never needed for correctness, only for immediacy.
    """
    record = store.open()
    try:
        with (
            IncidentLocks(store.dsn.get_secret_value(), store.schema_name) as locks,
            locks.hold(incident_id) as mine,
        ):
            return react(record, incident_id, channels, policy, now=now) if mine else None
    finally:
        record.close()


def _candidates(record: IncidentRecord, policy: IncidentPolicy, now: datetime) -> list[str]:
    since = now - policy.sweep_lookback
    return [
        str(row["id"])
        for row in record.incidents()
        if row["closed_at"] is None or row["closed_at"] >= since
    ]


@flow(name="notify-due", flow_run_name="notify-due", log_prints=False)
def notify_due(
    store: str | IncidentStore = "incident-store",
    slack: str | SlackWorkspace | None = "incident-slack",
    status_page: str | StatusPage | None = None,
    pager: str | PagerDutyService | None = None,
    policy: str | IncidentPolicyBlock | IncidentPolicy = "incident-policy",
    now: datetime | None = None,
) -> dict[str, list[str]]:
    """Tell every open incident's channels what is due; returns incident id -> steps done.

    Args:
        store: IncidentStore block (name) of the incident record.
        slack: SlackWorkspace block (name); None: no Slack messages.
        status_page: StatusPage block (name); None: no status page.
        pager: PagerDutyService block (name); None: no pages.
        policy: IncidentPolicy block (name): cadences, matrix, roster, templates.
        now: the time to judge what is due by (tests); default: now.
    """
    rules = (
        policy
        if isinstance(policy, IncidentPolicy)
        else resolve_block(IncidentPolicyBlock, policy).policy
    )
    templates_for(rules)  # a broken template override fails here, before anything is sent
    store_block = resolve_block(IncidentStore, store)
    channels = Channels(
        slack=resolve_block(SlackWorkspace, slack) if slack is not None else None,
        status_page=resolve_block(StatusPage, status_page) if status_page is not None else None,
        pager=resolve_block(PagerDutyService, pager) if pager is not None else None,
    )
    record = store_block.open()
    when = now or utcnow()
    done: dict[str, list[str]] = {}
    failed: list[str] = []
    try:
        with IncidentLocks(store_block.dsn.get_secret_value(), store_block.schema_name) as locks:
            for incident_id in _candidates(record, rules, when):
                with locks.hold(incident_id) as mine:
                    if not mine:
                        run_logger().info("%s is being handled by another pass", incident_id)
                        continue
                    try:
                        done[incident_id] = react(record, incident_id, channels, rules, now=when)
                    except Exception as exc:  # the record itself failed: go on with the next
                        run_logger().error("could not sweep %s: %s", incident_id, exc)
                        failed.append(incident_id)
    finally:
        record.close()
    if failed:
        raise TransientError(f"could not sweep {failed}: see the log; the next sweep retries")
    return done


def main(argv: list[str] | None = None) -> None:
    """Serve the sweep on an interval from this process (a deployment does it on a worker)."""
    parser = argparse.ArgumentParser(prog="python -m flows.notify_due", description=__doc__)
    parser.add_argument("--interval", type=int, default=60, help="seconds between sweeps")
    parser.add_argument("--store", default="incident-store")
    parser.add_argument("--slack", default="incident-slack")
    parser.add_argument("--status-page", default=None)
    parser.add_argument("--pager", default=None)
    parser.add_argument("--policy", default="incident-policy")
    args = parser.parse_args(argv)
    notify_due.serve(
        name="notify-due",
        interval=args.interval,
        parameters={
            "store": args.store,
            "slack": args.slack,
            "status_page": args.status_page,
            "pager": args.pager,
            "policy": args.policy,
        },
    )


if __name__ == "__main__":
    main()
