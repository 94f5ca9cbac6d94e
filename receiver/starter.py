"""The receiver's background work: start pending runs, hand attached alerts to running flows.

Nothing here is on a request's path: a request persists and answers, then wakes this loop.
Every attempt is bounded in time; a failure leaves the work in PostgreSQL with a backoff, so
a Prefect API that is down, slow or missing a deployment delays a start and never loses it.
The API is probed meanwhile, and the loop wakes the moment it answers again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from datetime import timedelta
from typing import Any
from uuid import UUID

import anyio
import httpx
from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.client.schemas.objects import State, StateType
from prefect.deployments import arun_deployment
from prefect.exceptions import ObjectNotFound

from incident.models import Alert
from incident.redact import redact
from receiver.claims import flow_alert, idempotency_key
from receiver.health import Health
from receiver.metrics import ReceiverMetrics
from receiver.outbox import Outbox, PendingDelivery, PendingStart
from receiver.payloads.common import ReceivedAlert
from receiver.run_inputs import AttachedAlert, AttachedAlerts, alerts_input_key
from receiver.settings import ReceiverSettings

__all__ = ["Background", "describe_start_failure"]

log = logging.getLogger("firebreak.receiver")

_REPAIR_EVERY = 10  # rounds


def describe_start_failure(exc: BaseException, api_url: str, deployment: str) -> tuple[str, str]:
    """(kind, what to tell a person) for a failed start; kinds are fixed metric labels."""
    if isinstance(exc, TimeoutError):
        return "timeout", f"the Prefect API at {api_url} did not answer in time"
    if isinstance(exc, ObjectNotFound):
        return "missing_deployment", (
            f"deployment {deployment} does not exist on the Prefect API at {api_url}: deploy it "
            "(`prefect deploy`) or fix the routing rule"
        )
    if isinstance(exc, httpx.HTTPStatusError):
        code = exc.response.status_code
        detail = exc.response.text[:200]
        if code >= 500:
            return "api_error", f"the Prefect API answered {code}: {detail}"
        return "refused", f"the Prefect API refused the run ({code}): {detail}"
    if isinstance(exc, httpx.TransportError | OSError):
        return "unreachable", (
            f"the Prefect API at {api_url} is unreachable ({type(exc).__name__}: {exc})"
        )
    return "error", f"{type(exc).__name__}: {exc}"


class Background:
    def __init__(
        self,
        settings: ReceiverSettings,
        outbox: Outbox,
        client: PrefectClient,
        health: Health,
        metrics: ReceiverMetrics,
    ) -> None:
        self._settings = settings
        self._outbox = outbox
        self._client = client
        self._health = health
        self._metrics = metrics
        self._wake = asyncio.Event()
        self._timeout = settings.start_attempt_timeout.total_seconds()
        self._dsn = settings.record_dsn.get_secret_value()

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(self._work_loop)
            tasks.start_soon(self._probe_loop)

    async def _work_loop(self) -> None:
        tick = min(1.0, self._settings.start_retry_initial.total_seconds())
        every = self._settings.delivery_interval.total_seconds()
        rounds, delivered_at = 0, 0.0
        while True:
            self._wake.clear()
            try:
                if rounds % _REPAIR_EVERY == 0:
                    await self.repair()
                more = await self.start_due()
                if time.monotonic() - delivered_at >= every:
                    delivered_at = time.monotonic()
                    await self.deliver_attached()
            except Exception as exc:  # the record is down, say: keep looping, say why
                log.warning("receiver background round failed: %s", redact(str(exc), self._dsn))
                more = False
            rounds += 1
            if more:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=tick)

    async def _probe_loop(self) -> None:
        url = f"{self._health.prefect_api_url}/health"
        async with httpx.AsyncClient(timeout=2) as http:
            while True:
                try:
                    ok = (await http.get(url)).status_code == 200
                    error = "" if ok else "health check did not answer 200"
                except httpx.HTTPError as exc:
                    ok, error = False, f"{type(exc).__name__}: {exc}"
                if self._health.prefect(ok, error):
                    log.info("Prefect API is back: starting pending runs")
                    self.wake()
                self._metrics.prefect_api_up.set(1 if ok else 0)
                try:
                    pending = await anyio.to_thread.run_sync(self._outbox.pending_count)
                    self._health.pending_starts, self._health.record_error = pending, ""
                    self._metrics.pending_starts.set(pending)
                except Exception as exc:
                    self._health.record_error = redact(str(exc), self._dsn)
                await anyio.sleep(self._settings.health_interval.total_seconds())

    # -- starting runs ------------------------------------------------------------------------

    async def start_due(self) -> bool:
        """Start what is due; True when a full batch was taken (more may be waiting)."""
        batch = self._settings.start_batch
        lease = timedelta(seconds=self._timeout * 2 + 5)
        due = await anyio.to_thread.run_sync(self._outbox.lease_due, batch, lease)
        if due:
            await asyncio.gather(*(self._start(start) for start in due))
        return len(due) == batch

    async def _start(self, start: PendingStart) -> None:
        try:
            with anyio.fail_after(self._timeout):
                run = await arun_deployment(
                    start.deployment,
                    client=self._client,
                    parameters=start.parameters,
                    timeout=0,
                    idempotency_key=start.idempotency_key,
                    as_subflow=False,
                )
        except Exception as exc:
            kind, message = describe_start_failure(
                exc, self._health.prefect_api_url, start.deployment
            )
            if kind in ("unreachable", "timeout"):
                self._health.prefect(False, message)
            self._metrics.start_failures.labels(kind).inc()
            retry_in = self._backoff(start.attempts, kind)
            log.warning("run for %s not started: %s", start.incident_id, message)
            await anyio.to_thread.run_sync(self._outbox.failed, start, message, retry_in)
            return
        if self._health.prefect(True):
            self.wake()
        waited = await anyio.to_thread.run_sync(self._outbox.started, start, str(run.id), run.name)
        self._metrics.start_seconds.observe(waited)
        log.info("flow run %s started for %s (%s)", run.name, start.incident_id, start.deployment)

    def _backoff(self, attempts: int, kind: str) -> timedelta:
        initial = self._settings.start_retry_initial.total_seconds()
        ceiling = self._settings.start_retry_max.total_seconds()
        if kind in ("missing_deployment", "refused"):
            return timedelta(seconds=ceiling)
        delay = min(ceiling, initial * 2 ** max(0, attempts - 1))
        return timedelta(seconds=delay * random.uniform(0.8, 1.2))

    # -- alerts for running flows -------------------------------------------------------------

    async def deliver_attached(self) -> None:
        """Hand each incident's new alerts to its run, one input per incident per round.

        Only to runs that are listening (running or paused); a run still waiting for a
        worker gets them once it runs, a finished one never (the record has them all).
        """
        pending = await anyio.to_thread.run_sync(self._outbox.undelivered, 2000)
        by_run: dict[tuple[str, str], list[PendingDelivery]] = {}
        for item in pending:
            by_run.setdefault((item.incident_id, item.flow_run_id), []).append(item)
        if not by_run:
            return
        try:
            with anyio.fail_after(self._timeout):
                states = await self._run_states({run for _, run in by_run})
        except Exception:
            return  # the API is down: next round
        for (incident_id, flow_run_id), items in by_run.items():
            ids = [item.id for item in items]
            state = states.get(flow_run_id)
            if state is None or state.is_final():
                gone = "run-gone" if state is None else "run-finished"
                await anyio.to_thread.run_sync(self._outbox.delivered, ids, gone)
                continue
            if state.type not in (StateType.RUNNING, StateType.PAUSED):
                continue  # not listening yet
            try:
                with anyio.fail_after(self._timeout):
                    await self._send(incident_id, flow_run_id, items)
                how = "input"
            except httpx.HTTPStatusError as exc:
                code = exc.response.status_code
                if code == 409:
                    how = "input"  # this very batch was handed over already
                elif code == 404:
                    how = "run-gone"  # the run was deleted: the record still has them
                else:
                    break
            except Exception:
                break  # the API is down: the rest waits for the next round
            await anyio.to_thread.run_sync(self._outbox.delivered, ids, how)

    async def _run_states(self, flow_run_ids: set[str]) -> dict[str, State[Any]]:
        runs = await self._client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                id=FlowRunFilterId(any_=[UUID(run) for run in flow_run_ids])
            ),
            limit=len(flow_run_ids),
        )
        return {str(run.id): run.state for run in runs if run.state is not None}

    async def _send(self, incident_id: str, flow_run_id: str, items: list[PendingDelivery]) -> None:
        batch = AttachedAlerts(
            incident_id=incident_id,
            alerts=[
                AttachedAlert(
                    fingerprint=item.fingerprint,
                    status=item.status,
                    episode=item.episode,
                    alert=Alert.model_validate(item.alert),
                )
                for item in items
            ],
        )
        await self._client.create_flow_run_input(
            UUID(flow_run_id),
            key=alerts_input_key(
                incident_id, [(i.fingerprint, i.status, i.episode) for i in items]
            ),
            value=batch.model_dump_json(),
            sender="firebreak-receiver",
        )

    # -- repair -------------------------------------------------------------------------------

    async def repair(self) -> None:
        orphans = await anyio.to_thread.run_sync(self._outbox.orphans, self._settings.orphan_grace)
        for row in orphans:
            alert = Alert.model_validate(row["alert"])
            decision = self._settings.routing.decide(alert)
            key = str(row["open_key"])
            received = ReceivedAlert(alert=alert, fingerprint="")
            parameters = {
                **decision.parameters,
                "alert": flow_alert(received, key).model_dump(mode="json"),
                "incident_id": row["id"],
            }
            await anyio.to_thread.run_sync(
                self._outbox.adopt,
                row["id"],
                decision.deployment,
                decision.route,
                parameters,
                idempotency_key(row["id"], key),
            )
            log.warning("incident %s had no pending start (a crash?): queued one", row["id"])
