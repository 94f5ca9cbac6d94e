"""One Kubernetes API session of a mitigation or a verification: the target's client, and
every request through the classified boundary (`tasks.kubernetes_api.call_api`), with the
two answers an action decides on — the object is gone (404), or it changed under our write
(409) — raised as exceptions of their own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from kubernetes import client

from blocks.kubernetes import KubernetesTarget
from tasks.kubernetes_api import KubernetesPermanentError, call_api

__all__ = ["Gone", "Kube", "WriteConflict", "label_selector"]

T = TypeVar("T")


class WriteConflict(Exception):
    """The object changed between our read and our write (409): nothing was written."""


class Gone(Exception):
    """The object does not exist (404)."""


class Kube:
    """The API client and target of one action run; every request classified by `call_api`."""

    def __init__(self, api: client.ApiClient, target: KubernetesTarget) -> None:
        self.api = api
        self.target = target
        self.apps = client.AppsV1Api(api)
        self.core = client.CoreV1Api(api)

    def read(self, fn: Callable[..., T], *, resource: str, group: str = "", **kwargs: Any) -> T:
        """A GET; a missing object raises `Gone`, every other failure stays classified."""
        try:
            return call_api(
                self.api, self.target, fn, verb="get", resource=resource, group=group, **kwargs
            )
        except KubernetesPermanentError as exc:
            if exc.status == 404:
                raise Gone(str(exc)) from None
            raise

    def write(
        self, fn: Callable[..., T], *, verb: str, resource: str, group: str = "", **kwargs: Any
    ) -> T:
        """A mutating request: 409 is `WriteConflict`, 404 `Gone`, 403 names the rule to add."""
        try:
            return call_api(
                self.api, self.target, fn, verb=verb, resource=resource, group=group, **kwargs
            )
        except KubernetesPermanentError as exc:
            if exc.status == 409:
                raise WriteConflict(str(exc)) from None
            if exc.status == 404:
                raise Gone(str(exc)) from None
            if exc.status == 403:
                api_group = f'apiGroup "{group}"' if group else "the core apiGroup"
                raise KubernetesPermanentError(
                    f"the worker may not {verb} {resource} in namespace "
                    f"'{self.target.namespace}' (403): add verb {verb} on {resource} "
                    f"({api_group}) to its Role, as deployments/rbac-worker.yaml does",
                    status=403,
                ) from None
            raise

    def serialize(self, model: Any) -> Any:
        """A client model as the API's JSON (camelCase keys, no None fields)."""
        return self.api.sanitize_for_serialization(model)


def label_selector(selector: client.V1LabelSelector | None) -> str:
    """A workload's selector as a ``labelSelector`` query (matchLabels and matchExpressions).

    A workload without a selector selects nothing here (never every pod of the namespace).
    """
    if selector is None:
        raise ValueError("a workload without a selector has no pods of its own")
    parts = [f"{k}={v}" for k, v in sorted((selector.match_labels or {}).items())]
    for expr in selector.match_expressions or []:
        values = ",".join(expr.values or [])
        parts.append(
            {
                "In": f"{expr.key} in ({values})",
                "NotIn": f"{expr.key} notin ({values})",
                "Exists": expr.key,
                "DoesNotExist": f"!{expr.key}",
            }[expr.operator]
        )
    if not parts:
        raise ValueError("a workload with an empty selector has no pods of its own")
    return ",".join(parts)
