"""The ASGI app: one endpoint per source, Slack interactivity, ``/healthz`` and ``/metrics``.

A request is authenticated, size-checked, parsed and validated, persisted (``Intake``) and
answered 202; the flow run starts in the background (``Background``). Every refusal is a
4xx saying what is wrong; only an unreachable record database gives a 5xx (503, so the
sender retries), because then nothing could be persisted.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
from fastapi import BackgroundTasks, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prefect.client.orchestration import PrefectClient
from prefect.settings import PREFECT_API_KEY, PREFECT_API_URL
from pydantic import ValidationError

from blocks.slack import SlackWorkspace
from incident.errors import FirebreakError, PermanentError, TransientError
from incident.redact import redact
from receiver import auth
from receiver.body import decode_json, read_body
from receiver.health import Health
from receiver.intake import Intake
from receiver.metrics import CONTENT_TYPE_LATEST, ReceiverMetrics
from receiver.outbox import Outbox
from receiver.payloads import Normaliser, normalise
from receiver.refusal import Refusal, describe_validation_error
from receiver.settings import ReceiverSettings
from receiver.slack_interactivity import answer_click, click_event, parse_click, tell_slack
from receiver.starter import Background

__all__ = ["SOURCES", "create_app", "resolve_prefect_api_url"]

log = logging.getLogger("firebreak.receiver")

SOURCES = ("alertmanager", "grafana", "pagerduty", "generic")


def resolve_prefect_api_url(settings: ReceiverSettings) -> str:
    url = settings.prefect_api_url or PREFECT_API_URL.value()
    if not url:
        raise PermanentError(
            "no Prefect API to start runs on: set prefect_api_url in the receiver settings "
            "(or PREFECT_API_URL in the Prefect profile)"
        )
    return str(url).rstrip("/")


class Receiver:
    """Everything one running app holds; built in the lifespan, torn down after."""

    def __init__(self, settings: ReceiverSettings) -> None:
        self.settings = settings
        self.api_url = resolve_prefect_api_url(settings)
        self.metrics = ReceiverMetrics()
        self.health = Health(prefect_api_url=self.api_url)
        self.intake = Intake(settings)
        self.norm = Normaliser(
            max_field_chars=settings.max_field_chars, severity_aliases=settings.severity_aliases
        )
        self.background: Background | None = None
        self.slack: SlackWorkspace | None = None
        if settings.slack.enabled and settings.slack.bot_token is not None:
            self.slack = SlackWorkspace(
                token=settings.slack.bot_token,
                api_base_url=settings.slack.api_base_url,
                timeout_seconds=settings.slack.timeout_seconds,
            )

    @asynccontextmanager
    async def lifespan(self, app: FastAPI) -> AsyncIterator[None]:
        await self.intake.open()
        dsn, schema = self.settings.record_dsn.get_secret_value(), self.settings.record_schema
        outbox = Outbox(dsn, schema)
        key = PREFECT_API_KEY.value()
        async with (
            PrefectClient(self.api_url, api_key=key) as client,
            anyio.create_task_group() as tasks,
        ):
            self.background = Background(self.settings, outbox, client, self.health, self.metrics)
            tasks.start_soon(self.background.run)
            try:
                yield
            finally:
                tasks.cancel_scope.cancel()
        await anyio.to_thread.run_sync(outbox.close)
        await self.intake.close()

    # -- alerts -------------------------------------------------------------------------------

    async def receive(self, source: str, request: Request) -> Response:
        return await self._answer(source, lambda: self._receive(source, request))

    async def _receive(self, source: str, request: Request) -> Response:
        config = getattr(self.settings.sources, source)
        if not config.enabled:
            raise Refusal(
                404,
                "source_disabled",
                f"the {source} endpoint is switched off: configure sources.{source} "
                "credentials in the receiver settings",
            )
        headers = request.headers
        if source in ("alertmanager", "grafana"):
            auth.check_header_auth(source, config, headers)  # before reading the body
        raw = await read_body(request, self.settings.max_body_bytes)
        if source == "pagerduty":
            auth.check_pagerduty(config, headers, raw)
        elif source == "generic":
            auth.check_generic(config, headers, raw)
        body = decode_json(raw, max_depth=self.settings.max_json_depth)
        try:
            parsed = normalise(source, body, self.norm)
        except ValidationError as exc:
            raise Refusal(
                422,
                "invalid_payload",
                f"the body is not a valid {source} payload: see details",
                details=describe_validation_error(exc),
            ) from None
        if len(parsed.alerts) > self.settings.max_alerts_per_request:
            raise Refusal(
                413,
                "too_many_alerts",
                f"{len(parsed.alerts)} alerts in one request, over the receiver's "
                f"{self.settings.max_alerts_per_request}: send fewer per notification",
            )
        if not parsed.alerts:
            return JSONResponse({"status": "ignored", "reason": parsed.ignored}, status_code=202)
        outcomes = await self.intake.take(parsed)
        self._count(source, outcomes)
        if self.background is not None and any(o.created for o in outcomes):
            self.background.wake()  # a run to start; attached alerts go out on the next round
        return JSONResponse(
            {
                "status": "accepted",
                "incidents": [
                    {
                        "incident_id": o.incident_id,
                        "created": o.created,
                        "alerts_recorded": o.recorded,
                        "alerts_already_recorded": o.duplicates,
                        **({"ignored": o.ignored} if o.ignored else {}),
                    }
                    for o in outcomes
                ],
            },
            status_code=202,
        )

    def _count(self, source: str, outcomes: list[Any]) -> None:
        for outcome in outcomes:
            if outcome.created:
                self.metrics.incidents_started.labels(source).inc()
            attached = outcome.recorded - (1 if outcome.created else 0)
            if attached > 0:
                self.metrics.alerts_attached.labels(source).inc(attached)
            if outcome.duplicates:
                self.metrics.alerts_duplicate.labels(source).inc(outcome.duplicates)

    async def _answer(self, source: str, handle: Callable[[], Awaitable[Response]]) -> Response:
        """Run a handler; turn refusals and outages into answers; count and time everything."""
        began = time.perf_counter()
        try:
            response = await handle()
        except Refusal as refusal:
            self.metrics.rejects.labels(source, refusal.reason).inc()
            log.info("refused %s request: %s (%s)", source, refusal.reason, refusal.status)
            response = JSONResponse(
                refusal.body(), status_code=refusal.status, headers=refusal.headers
            )
        except TransientError as exc:
            message = redact(str(exc), self.settings.record_dsn.get_secret_value())
            self.health.record_error = message
            log.error("could not persist a %s request: %s", source, message)
            response = JSONResponse(
                {"error": "unavailable", "message": f"{message}; nothing was recorded"},
                status_code=503,
                headers={"Retry-After": "5"},
            )
        self.metrics.requests.labels(source, str(response.status_code)).inc()
        self.metrics.request_seconds.labels(source).observe(time.perf_counter() - began)
        return response

    # -- Slack --------------------------------------------------------------------------------

    async def slack_interaction(self, request: Request, tasks: BackgroundTasks) -> Response:
        return await self._answer("slack", lambda: self._slack(request, tasks))

    async def _slack(self, request: Request, tasks: BackgroundTasks) -> Response:
        slack = self.settings.slack
        if not slack.enabled:
            raise Refusal(
                404, "source_disabled", "Slack interactivity is switched off: set slack."
                "signing_secret in the receiver settings",
            )  # fmt: skip
        raw = await read_body(request, self.settings.max_body_bytes)
        auth.check_slack(slack, request.headers, raw)
        click = parse_click(raw)
        if click is None:
            return JSONResponse({"status": "ignored", "reason": "not a Firebreak button"})
        answer = await anyio.to_thread.run_sync(
            answer_click, click, self.settings.policy, self.api_url
        )
        tasks.add_task(self._after_click, click, answer)
        return JSONResponse({"status": answer.outcome, "message": answer.text})

    async def _after_click(self, click: Any, answer: Any) -> None:
        try:
            await self.intake.records.call(lambda record: record.append(click_event(click, answer)))
        except FirebreakError as exc:
            log.warning("click on %s not recorded: %s", click.value.incident, exc)
        if self.slack is not None:
            await anyio.to_thread.run_sync(tell_slack, self.slack.client(), click, answer)

    # -- health -------------------------------------------------------------------------------

    async def healthz(self) -> Response:
        status, body = self.health.report()
        return JSONResponse(body, status_code=status)

    async def metrics_text(self) -> Response:
        return Response(self.metrics.render(), media_type=CONTENT_TYPE_LATEST)


def create_app(settings: ReceiverSettings) -> FastAPI:
    """The receiver as an ASGI app (serve it with uvicorn: ``receiver.server.serve``)."""
    receiver = Receiver(settings)
    app = FastAPI(
        title="Firebreak alert receiver",
        lifespan=receiver.lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.receiver = receiver

    def endpoint(source: str) -> Callable[[Request], Awaitable[Response]]:
        async def receive(request: Request) -> Response:
            return await receiver.receive(source, request)

        return receive

    for source in SOURCES:
        app.add_api_route(f"/alerts/{source}", endpoint(source), methods=["POST"])
    app.add_api_route("/slack/interactivity", receiver.slack_interaction, methods=["POST"])
    app.add_api_route("/healthz", receiver.healthz, methods=["GET"])
    app.add_api_route("/metrics", receiver.metrics_text, methods=["GET"])
    return app
