"""``kubectl describe ingress``: every Ingress backend, whether its Service exists, has the
port the Ingress names and ready endpoints behind it (issue 7 §2).

networking.k8s.io/v1 (1.19+) and core/v1 Services and Endpoints: what a request through
the ingress controller would hit, without needing the controller itself.
"""

from __future__ import annotations

from typing import Any

from kubernetes import client

from blocks.kubernetes import KubernetesTarget
from incident.models import Finding, FindingStatus
from tasks.diagnostic import diagnostic
from tasks.kubernetes_api import call_api, kubernetes_api, list_in_namespace

__all__ = ["INGRESS_BACKENDS_CHECK", "read_ingress_backends"]

INGRESS_BACKENDS_CHECK = "ingress_backends"


def _backends(ing: client.V1Ingress) -> list[tuple[str, str, client.V1IngressBackend]]:
    """(host, path, backend) of the default backend and of every rule's paths."""
    found = []
    if ing.spec.default_backend:
        found.append(("*", "(default)", ing.spec.default_backend))
    for rule in ing.spec.rules or []:
        for p in (rule.http.paths if rule.http else None) or []:
            found.append((rule.host or "*", p.path or "/", p.backend))
    return found


def _port_of(backend: client.V1IngressServiceBackend) -> str | int | None:
    port = backend.port
    if port is None:
        return None
    return port.number if port.number is not None else port.name


def _has_port(svc: client.V1Service, port: str | int | None) -> bool:
    if port is None:
        return True
    return any(p.port == port or (p.name and p.name == port) for p in svc.spec.ports or [])


def _ready(endpoints: client.V1Endpoints | None) -> tuple[int, int]:
    subsets = (endpoints.subsets if endpoints else None) or []
    ready = sum(len(s.addresses or []) for s in subsets)
    return ready, sum(len(s.not_ready_addresses or []) for s in subsets)


def _judge(
    backend: client.V1IngressBackend,
    services: dict[str, client.V1Service],
    endpoints: dict[str, client.V1Endpoints],
) -> dict[str, Any]:
    if backend.service is None:  # a resource backend (e.g. a bucket): not ours to judge
        kind = backend.resource.kind if backend.resource else "unknown"
        return {"service": None, "resource": kind, "problem": None}
    name, port = backend.service.name, _port_of(backend.service)
    row: dict[str, Any] = {"service": name, "port": port}
    svc = services.get(name)
    if svc is None:
        return {**row, "exists": False, "problem": f"service {name} does not exist"}
    ready, not_ready = _ready(endpoints.get(name))
    row.update(exists=True, ready=ready, not_ready=not_ready)
    if not _has_port(svc, port):
        row["problem"] = f"service {name} has no port {port}"
    elif svc.spec.type == "ExternalName":
        row["problem"] = None  # resolved by DNS, no endpoints to count
    elif not ready:
        row["problem"] = f"service {name} has no ready endpoint ({not_ready} not ready)"
    else:
        row["problem"] = None
    return row


@diagnostic(INGRESS_BACKENDS_CHECK, tags=("kubernetes",))
def read_ingress_backends(target: KubernetesTarget) -> Finding:
    """Every Ingress rule's backend: critical when a Service is missing, lacks the port, or
    has no ready endpoint (the ingress answers 503 for that host and path)."""
    with kubernetes_api(target) as api:
        ingresses = call_api(
            api,
            target,
            client.NetworkingV1Api(api).list_namespaced_ingress,
            verb="list",
            resource="ingresses",
            group="networking.k8s.io",
            namespace=target.namespace,
        ).items
        services: dict[str, client.V1Service] = {}
        endpoints: dict[str, client.V1Endpoints] = {}
        if ingresses:
            services = {s.metadata.name: s for s in list_in_namespace(api, target, "services")}
            endpoints = {e.metadata.name: e for e in list_in_namespace(api, target, "endpoints")}
    rows = [
        {"ingress": ing.metadata.name, "host": host, "path": path, **_judge(b, services, endpoints)}
        for ing in sorted(ingresses, key=lambda i: i.metadata.name)
        for host, path, b in _backends(ing)
    ]
    broken = [r for r in rows if r["problem"]]
    where = f"namespace '{target.namespace}'"
    if broken:
        parts = [f"{r['ingress']} {r['host']}{r['path']}: {r['problem']}" for r in broken]
        summary = f"{len(broken)} of {len(rows)} Ingress backend(s) in {where} cannot serve: "
        summary = (summary + "; ".join(parts))[:400]
    elif rows:
        summary = f"{len(rows)} Ingress backend(s) in {where}, each a Service with ready endpoints"
    else:
        summary = f"no Ingress in {where}"
    return Finding(
        check=INGRESS_BACKENDS_CHECK,
        target=target.label,
        status=FindingStatus.CRITICAL if broken else FindingStatus.OK,
        summary=summary,
        evidence={
            "ingresses": sorted({r["ingress"] for r in rows}),
            "backends": rows,
            "broken": [f"{r['ingress']}:{r['service']}" for r in broken],
        },
    )
