"""How each Kubernetes mitigation's plan item reads in the approval form and artifact.

One short block per item, in the resume form's width: what object, what changes from what
to what, and the version of the object the plan was made against (an approval covers that
version only). Names and images are written as code, so nothing is turned into a link.
"""

from __future__ import annotations

from typing import Any

from incident.plan_text import ItemView, register_item_view

__all__ = [
    "delete_pod_view",
    "limits_view",
    "restart_view",
    "rollback_view",
    "scale_view",
]


def _code(value: Any) -> str:
    return f"`{value}`" if value not in (None, "") else "—"


def _images(images: Any) -> str:
    if not images:
        return "—"
    return ", ".join(f"`{i}`" for i in images)


def _version(item: dict[str, Any]) -> str:
    version = f"resourceVersion {item.get('resource_version')}"
    if item.get("generation") is not None:
        version += f", generation {item['generation']}"
    return version


def _where(item: dict[str, Any]) -> str:
    return f"{item.get('kind', 'Deployment')} `{item.get('namespace')}/{item['name']}`"


@register_item_view("rollback_deployment")
def rollback_view(item: dict[str, Any]) -> ItemView:
    return ItemView(
        heading=(
            f"{item['name']} — roll back revision {item.get('from_revision')} → "
            f"{item.get('to_revision')}"
        ),
        facts=[
            ("object", _where(item)),
            ("images now", _images(item.get("images_now"))),
            ("images after", _images(item.get("images_after"))),
            (
                "to",
                f"ReplicaSet {_code(item.get('to_replicaset'))}, hash "
                f"{_code(item.get('template_hash'))}",
            ),
            ("as planned", _version(item)),
        ],
    )


@register_item_view("patch_container_limits")
def limits_view(item: dict[str, Any]) -> ItemView:
    resource = item.get("resource")
    return ItemView(
        heading=(
            f"{item['name']}/{item.get('container')} — {resource} limit "
            f"{item.get('limit_now') or 'none'} → {item.get('limit_after')}"
        ),
        facts=[
            ("object", _where(item)),
            ("container", _code(item.get("container"))),
            (f"{resource} request", f"{item.get('request_now') or 'none'} (unchanged)"),
            ("as planned", _version(item)),
        ],
    )


@register_item_view("restart_deployment")
def restart_view(item: dict[str, Any]) -> ItemView:
    return ItemView(
        heading=f"{item['name']} — rolling restart, once for {item.get('incident_id')}",
        facts=[
            ("object", _where(item)),
            ("marks", f"`firebreak.io/restarted-for: {item.get('incident_id')}` on the pods"),
            ("as planned", _version(item)),
        ],
    )


@register_item_view("delete_pod")
def delete_pod_view(item: dict[str, Any]) -> ItemView:
    why = [("why", str(item["reason"]))] if item.get("reason") else []
    return ItemView(
        heading=f"{item['name']} — delete this pod",
        facts=[
            ("pod", f"`{item.get('namespace')}/{item['name']}`"),
            ("uid", f"{_code(item.get('uid'))} (a new pod of that name is never touched)"),
            *why,
            ("as planned", f"resourceVersion {item.get('resource_version')}"),
        ],
    )


@register_item_view("scale_workload")
def scale_view(item: dict[str, Any]) -> ItemView:
    return ItemView(
        heading=(
            f"{item['name']} — scale {item.get('replicas_now')} → "
            f"{item.get('replicas_after')} replicas"
        ),
        facts=[
            ("object", _where(item)),
            ("as planned", f"resourceVersion {item.get('resource_version')}"),
        ],
    )
