"""The Kubernetes API boundary: one client per target, every failure classified once, here.

A failure becomes a `TransientError` (timeout, refused or reset connection, 5xx, 429: Prefect
retries it with backoff) or a `PermanentError` (401/403/404, bad kubeconfig, TLS trust:
retrying cannot help), each with a message that says what to do next and no credential in it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import urllib3
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from kubernetes.config import ConfigException

from blocks.kubernetes import KubernetesTarget
from incident.errors import FirebreakError, PermanentError, TransientError
from incident.redact import redact

__all__ = [
    "KubernetesError",
    "KubernetesPermanentError",
    "KubernetesTransientError",
    "call_api",
    "classify_kubernetes_error",
    "describe_target",
    "kubernetes_api",
    "list_in_namespace",
    "scrub",
]

_BEARER = re.compile(r"(bearer\s+)[A-Za-z0-9._~+/=-]+", re.I)

T = TypeVar("T")


class KubernetesError(FirebreakError):
    """A classified Kubernetes API failure: the HTTP status, if any, and the attempts made."""

    def __init__(self, message: str, *, status: int | None = None, attempts: int = 1) -> None:
        super().__init__(message)
        self.status = status
        self.attempts = attempts

    def __reduce__(self) -> tuple[Any, ...]:  # keep the fields through Prefect's pickling
        return (_rebuild, (type(self), str(self), self.status, self.attempts))


class KubernetesTransientError(KubernetesError, TransientError):
    """The API was unreachable, timed out, or answered 5xx/429: a retry may succeed."""


class KubernetesPermanentError(KubernetesError, PermanentError):
    """The API refused the request (401/403/404/4xx) or the client could not be configured."""


def _rebuild(
    cls: type[KubernetesError], message: str, status: int | None, attempts: int
) -> KubernetesError:
    return cls(message, status=status, attempts=attempts)


def describe_target(target: KubernetesTarget) -> str:
    """How a message names the target: the saved block's name, else its label."""
    name = getattr(target, "_block_document_name", None)
    return f"block '{name}'" if name else f"target {target.label}"


def scrub(text: str) -> str:
    """Never let a bearer token or a kubeconfig secret ride along in an error text."""
    return redact(_BEARER.sub(r"\1***", text))


def _api_message(exc: ApiException) -> str:
    """The apiserver's own explanation (its Status ``message``), else the HTTP reason."""
    try:
        body = json.loads(exc.body or "")
    except (TypeError, ValueError):
        body = None
    message = body.get("message") if isinstance(body, dict) else None
    return scrub(str(message or exc.reason or "no reason given"))


def classify_kubernetes_error(
    exc: BaseException,
    target: KubernetesTarget,
    *,
    host: str,
    verb: str,
    resource: str,
    group: str = "",
) -> KubernetesError | None:
    """Turn a client-side exception into a Transient/PermanentError that says what to do next.

    ``verb``/``resource``/``group`` name the request (``list``, ``deployments``, ``apps``) so a
    403 can say exactly which permission to grant. Returns None for anything that is not a
    failure of the API or the network (a bug), which must propagate unchanged.
    """
    where = describe_target(target)
    ns = target.namespace
    what = f"{verb} {resource}{'.' + group if group else ''} in namespace '{ns}'"
    if isinstance(exc, ApiException):
        status = exc.status or 0
        detail = _api_message(exc)
        if status == 0 and "CERTIFICATE_VERIFY_FAILED" in str(exc.reason):
            return KubernetesPermanentError(
                f"TLS verification of the Kubernetes API at {host} failed ({detail}): check "
                f"certificate-authority in the kubeconfig of {where}"
            )
        if status == 401:
            return KubernetesPermanentError(
                f"the Kubernetes API at {host} rejected the credentials of {where} (401): the "
                "token or client certificate in its kubeconfig is expired or wrong; refresh it",
                status=status,
            )
        if status == 403:
            api_group = f'apiGroup "{group}"' if group else "the core apiGroup"
            return KubernetesPermanentError(
                f"{where} may not {what} (403: {detail}): grant get/list on {resource} "
                f"({api_group}) in namespace '{ns}' to the worker's ServiceAccount "
                "(a Role and RoleBinding)",
                status=status,
            )
        if status == 404:
            return KubernetesPermanentError(
                f"the Kubernetes API at {host} answered 404 to {what} ({detail}): check the "
                f"namespace in {where}, and that the cluster serves {group or 'core'} APIs",
                status=status,
            )
        if status in (408, 429) or status >= 500 or status == 0:
            return KubernetesTransientError(
                f"the Kubernetes API at {host} answered {status or 'no status'} to {what} "
                f"({detail}): a transient server error; if it persists, check the apiserver's "
                "health (its log, etcd, load)",
                status=status or None,
            )
        return KubernetesPermanentError(
            f"the Kubernetes API at {host} refused to {what} ({status}: {detail}): the "
            "cluster does not accept this request; report it with the apiserver version",
            status=status,
        )
    if isinstance(exc, urllib3.exceptions.MaxRetryError) and exc.reason is not None:
        exc = exc.reason
    if isinstance(exc, urllib3.exceptions.SSLError) and "CERTIFICATE_VERIFY_FAILED" in str(exc):
        return KubernetesPermanentError(
            f"TLS verification of the Kubernetes API at {host} failed: check "
            f"certificate-authority and server in the kubeconfig of {where}"
        )
    if isinstance(exc, urllib3.exceptions.HTTPError | OSError):
        kind = (
            "timed out"
            if isinstance(exc, TimeoutError | urllib3.exceptions.TimeoutError)
            else "refused or dropped the connection"
        )
        return KubernetesTransientError(
            f"Kubernetes API at {host} unreachable ({kind} while trying to {what}): check the "
            f"kubeconfig/context in {where}, and that the apiserver is up and reachable from "
            "the worker"
        )
    return None


@contextmanager
def kubernetes_api(target: KubernetesTarget) -> Iterator[client.ApiClient]:
    """A fresh ApiClient for ``target``, closed afterwards; an unloadable config is permanent."""
    try:
        api = target.api_client()
    except (ConfigException, OSError, ValueError) as exc:
        source = (
            "in-cluster config" if target.in_cluster else f"kubeconfig {target.kubeconfig_file()}"
        )
        raise KubernetesPermanentError(
            f"cannot load the {source} (context {target.context or 'current'}) of "
            f"{describe_target(target)}: {scrub(str(exc))}; set kubeconfig_path/context in the "
            "block, or in_cluster when the worker runs in a pod"
        ) from None
    with api:
        yield api


def call_api(
    api: client.ApiClient,
    target: KubernetesTarget,
    fn: Callable[..., T],
    *,
    verb: str,
    resource: str,
    group: str = "",
    **kwargs: Any,
) -> T:
    """One API request, bounded by the block's timeout, with its failure classified."""
    try:
        return fn(_request_timeout=target.request_timeout_seconds, **kwargs)
    except Exception as exc:
        error = classify_kubernetes_error(
            exc, target, host=api.configuration.host, verb=verb, resource=resource, group=group
        )
        if error is None:
            raise
        raise error from None  # the classified message is complete; keep client internals out


_CORE_LISTS = {
    "pods": "list_namespaced_pod",
    "services": "list_namespaced_service",
    "endpoints": "list_namespaced_endpoints",
}


def list_in_namespace(api: client.ApiClient, target: KubernetesTarget, resource: str) -> list[Any]:
    """Every pod, service or endpoints object of the target's namespace, as one classified
    request: the reads most checks start from."""
    method = getattr(client.CoreV1Api(api), _CORE_LISTS[resource])
    return call_api(
        api, target, method, verb="list", resource=resource, namespace=target.namespace
    ).items
