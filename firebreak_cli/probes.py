"""Reach the system behind each block once, the way a flow would, and say what is wrong.

One probe per block type, each a small read that proves the configuration works end to end
(connect and ``SELECT 1``, ``auth.test``, list one pod, ``PING``, GET the health URL). A
probe raises on failure; `run_probe` turns that into a sentence with every secret of the
block removed, so ``doctor`` can print it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from kubernetes import client as k8s
from prefect.blocks.core import Block
from pydantic import SecretStr
from slack_sdk.errors import SlackApiError

from blocks import (
    HealthEndpoints,
    HttpEndpoint,
    IncidentPolicyBlock,
    IncidentStore,
    KubernetesTarget,
    PagerDutyService,
    PostgresTarget,
    PrometheusTarget,
    RedisTarget,
    RoutingRulesBlock,
    SlackWorkspace,
    StatusPage,
)
from incident.redact import describe_dsn, redact
from tasks.kubernetes_api import call_api, kubernetes_api

__all__ = ["PROBES", "ProbeResult", "block_secrets", "run_probe"]


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    system: str  # what was reached, without credentials
    detail: str  # what worked, or what is wrong and what to do


def _postgres(block: PostgresTarget) -> tuple[str, str]:
    with block.connect() as conn:
        row = conn.execute("SELECT current_user AS u, version() AS v").fetchone()
    return block.label, f"connected as {row['u']}: {str(row['v']).split(',')[0]}"


def _store(block: IncidentStore) -> tuple[str, str]:
    record = block.open()
    try:
        record.ensure_schema()
        count = len(record.incidents(open_only=True))
    finally:
        record.close()
    where = f"{describe_dsn(block.dsn.get_secret_value())} schema {block.schema_name}"
    return where, f"record schema ready, {count} open incident(s)"


def _slack(block: SlackWorkspace) -> tuple[str, str]:
    try:
        answer = block.client().auth_test()
    except SlackApiError as exc:
        error = exc.response.get("error", "unknown") if exc.response is not None else "unknown"
        raise RuntimeError(
            f"Slack answered {error!r} to auth.test: check the bot token in the block"
        ) from None
    return block.api_base_url, f"authenticated as {answer.get('user')} in {answer.get('team')}"


def _kubernetes(block: KubernetesTarget) -> tuple[str, str]:
    with kubernetes_api(block) as api:
        pods = call_api(
            api,
            block,
            k8s.CoreV1Api(api).list_namespaced_pod,
            verb="list",
            resource="pods",
            namespace=block.namespace,
            limit=1,
        )
    return block.label, f"namespace {block.namespace} readable ({len(pods.items)}+ pod(s))"


def _redis(block: RedisTarget) -> tuple[str, str]:
    with block.client() as conn:
        info = conn.info("server")
    url = redact(block.url.get_secret_value())
    return url, f"PING ok, Redis {info.get('redis_version')}"


def _health(block: HealthEndpoints) -> tuple[str, str]:
    bad = []
    for url in block.urls:
        try:
            status = httpx.get(url, timeout=block.timeout_seconds).status_code
        except httpx.HTTPError as exc:
            bad.append(f"{url}: {type(exc).__name__}")
            continue
        if status != block.expected_status:
            bad.append(f"{url}: HTTP {status}, expected {block.expected_status}")
    if bad:
        raise RuntimeError("; ".join(bad) + ": check the service and the URLs in the block")
    return ", ".join(block.urls), f"{len(block.urls)} endpoint(s) answer {block.expected_status}"


def _policy(block: IncidentPolicyBlock) -> tuple[str, str]:
    return "policy", f"valid ({block.policy.scheme} scheme)"


def _endpoint(block: HttpEndpoint) -> tuple[str, str]:
    with block.client() as http:
        status = http.get(block.url).status_code
    if not block.is_expected(status):
        wanted = block.expected_status or "a 2xx"
        raise RuntimeError(f"{block.url} answered HTTP {status}, expected {wanted}")
    return block.url, f"answers HTTP {status}"


def _prometheus(block: PrometheusTarget) -> tuple[str, str]:
    with block.client() as http:
        response = http.get("/api/v1/status/buildinfo")
    if response.status_code != 200:
        raise RuntimeError(
            f"{block.url} answered HTTP {response.status_code} to /api/v1/status/buildinfo: "
            "check the URL (the API's base, without /api/v1) and the token"
        )
    version = (response.json().get("data") or {}).get("version", "unknown version")
    return block.url, f"Prometheus API answers ({version})"


def _status_page(block: StatusPage) -> tuple[str, str]:
    response = httpx.get(
        block.url("components"), headers=block.auth_headers(), timeout=block.timeout_seconds
    )
    if response.status_code in (401, 403):
        raise RuntimeError("the status page refused the API key: check it in the block")
    if response.status_code == 404:
        raise RuntimeError(f"there is no page {block.page_id!r}: check the page id")
    response.raise_for_status()
    return block.api_base_url, f"page {block.page_id}: {len(response.json())} component(s)"


def _pager(block: PagerDutyService) -> tuple[str, str]:
    # The Events API has nothing to read: the only proof of a routing key is a page, and a
    # doctor that pages the on-call is worse than one that says what it did not check.
    contacts = len(block.contact_routing_keys)
    return block.events_url, (
        f"routing key set, {contacts} contact key(s); not sent (a test event would page)"
    )


def _routes(block: RoutingRulesBlock) -> tuple[str, str]:
    return "routing rules", f"valid, {len(block.rules.routes)} route(s)"


PROBES: dict[type[Block], Callable[[Any], tuple[str, str]]] = {
    PostgresTarget: _postgres,
    IncidentStore: _store,
    SlackWorkspace: _slack,
    KubernetesTarget: _kubernetes,
    RedisTarget: _redis,
    HealthEndpoints: _health,
    IncidentPolicyBlock: _policy,
    HttpEndpoint: _endpoint,
    PrometheusTarget: _prometheus,
    StatusPage: _status_page,
    PagerDutyService: _pager,
    RoutingRulesBlock: _routes,
}


def block_secrets(block: Block) -> list[str]:
    """Every secret value the block holds, to be masked in anything printed about it."""
    return [
        value.get_secret_value()
        for name in type(block).model_fields
        if isinstance(value := getattr(block, name, None), SecretStr)
    ]


def run_probe(block: Block) -> ProbeResult:
    """Probe ``block``'s system; never raises for a failure of that system."""
    secrets = block_secrets(block)
    try:
        system, detail = PROBES[type(block)](block)
    except Exception as exc:  # every failure is a finding here: doctor reports, never crashes
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return ProbeResult(False, _system_of(block), redact(text, *secrets))
    return ProbeResult(True, redact(system, *secrets), redact(detail, *secrets))


def _system_of(block: Block) -> str:
    if isinstance(block, PostgresTarget):
        return block.label
    if isinstance(block, IncidentStore):
        return describe_dsn(block.dsn.get_secret_value())
    if isinstance(block, RedisTarget):
        return redact(block.url.get_secret_value())
    if isinstance(block, SlackWorkspace):
        return block.api_base_url
    if isinstance(block, KubernetesTarget):
        return block.label
    if isinstance(block, HealthEndpoints):
        return ", ".join(block.urls)
    if isinstance(block, HttpEndpoint | PrometheusTarget):
        return block.url
    if isinstance(block, StatusPage):
        return block.api_base_url
    return type(block).__name__
