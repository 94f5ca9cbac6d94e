"""Kubernetes faults for drills: a bad rollout, a crash loop, an OOM kill.

Each fault is a Deployment of the drill's own, in the drill namespace, labelled as such, so
removing it deletes exactly what was made and never edits a workload someone else owns.
Containers really fail (a missing image tag, ``exit 1``, 20 MiB written to memory-backed
``/dev/shm`` under a 16 MiB limit) and also carry the fake kubelet's ``fake-kubelet/*``
annotations, so the same drill works on the local control plane and on kind, k3d or a
staging cluster.

Each is also a fault the runbooks' response can really fix, so a drill scores the response
and not the injector: the bad rollout and the crash loop follow a healthy revision 1 (roll
back), and the OOM kill uses a bounded amount of memory (raise the limit by half).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Any

from kubernetes import client
from kubernetes.client.rest import ApiException

from incident.errors import PermanentError
from sandbox.injectors.base import DrillTargets, Fault, register

__all__ = ["BadRollout", "CrashLoop", "DeploymentFault", "OomKill"]

IMAGE = "busybox:1.36"
BAD_IMAGE = "busybox:does-not-exist"  # no such tag anywhere; the fake kubelet fails it too
LABEL = "firebreak.dev/drill-fault"


def _api(targets: DrillTargets) -> client.ApiClient:
    if targets.kubernetes is None:
        raise PermanentError(
            "no Kubernetes drill target: give a kubeconfig (local control plane, kind, k3d) "
            "to run the Kubernetes drills; the others run without one"
        )
    return targets.kubernetes.api_client()


def _container(command: list[str], image: str = IMAGE, **extra: Any) -> dict[str, Any]:
    return {
        "name": "app",
        "image": image,
        "command": command,
        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
        **extra,
    }


class DeploymentFault(Fault):
    """A Deployment made to fail; ``present`` looks at its pods."""

    def __init__(self, targets: DrillTargets) -> None:
        super().__init__(targets)
        if targets.kubernetes is None:
            _api(targets)  # raises the explanation
        self.namespace = targets.kubernetes.namespace  # type: ignore[union-attr]
        self.name = f"fb-drill-{self.kind}-{secrets.token_hex(3)}"

    @property
    def target(self) -> str:
        return f"deployment {self.namespace}/{self.name}"

    @property
    def resource(self) -> dict[str, Any]:
        return {"namespace": self.namespace, "deployment": self.name}

    def container(self) -> dict[str, Any]:
        return _container(["sleep", "3600"])

    annotations: dict[str, str] = {}

    def manifest(self) -> dict[str, Any]:
        labels = {"app": self.name, LABEL: self.kind}
        return {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": self.name, "labels": labels},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": self.name}},
                "template": {
                    "metadata": {"labels": labels, "annotations": dict(self.annotations)},
                    "spec": {
                        "containers": [self.container()],
                        "securityContext": {
                            "runAsNonRoot": True,
                            "runAsUser": 65534,
                            "seccompProfile": {"type": "RuntimeDefault"},
                        },
                        "terminationGracePeriodSeconds": 1,
                    },
                },
            },
        }

    def inject(self) -> None:
        with _api(self.targets) as api:
            client.AppsV1Api(api).create_namespaced_deployment(self.namespace, self.manifest())

    def roll_out(self, template: dict[str, Any]) -> None:
        """Revision 1 as made, then revision 2 with ``template`` patched in: a rollout."""
        self.wait_until(lambda: self._revision() == "1", "revision 1 created")
        with _api(self.targets) as api:
            client.AppsV1Api(api).patch_namespaced_deployment(
                self.name, self.namespace, {"spec": {"template": template}}
            )

    def _revision(self) -> str | None:
        with _api(self.targets) as api:
            d = client.AppsV1Api(api).read_namespaced_deployment(self.name, self.namespace)
        return (d.metadata.annotations or {}).get("deployment.kubernetes.io/revision")

    def wait_until(self, check: Callable[[], bool], what: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.target}: {what} did not happen within {timeout}s")
            time.sleep(0.3)

    def pods(self) -> list[client.V1Pod]:
        with _api(self.targets) as api:
            return (
                client.CoreV1Api(api)
                .list_namespaced_pod(self.namespace, label_selector=f"app={self.name}")
                .items
            )

    @staticmethod
    def _statuses(pod: client.V1Pod) -> list[client.V1ContainerStatus]:
        return list(pod.status.container_statuses or []) if pod.status else []

    @classmethod
    def remove_orphan(cls, resource: dict[str, Any], targets: DrillTargets) -> str:
        with _api(targets) as api:
            try:
                client.AppsV1Api(api).delete_namespaced_deployment(
                    resource["deployment"], resource["namespace"], propagation_policy="Foreground"
                )
            except ApiException as exc:
                if exc.status != 404:
                    raise
                return f"deployment {resource['deployment']} already gone"
        return f"deleted deployment {resource['namespace']}/{resource['deployment']}"


@register
class CrashLoop(DeploymentFault):
    """Revision 1 runs; revision 2's command exits 1 at once (002 "Pod Crashes")."""

    kind = "crash-loop"

    def inject(self) -> None:
        super().inject()
        crashing = _container(["sh", "-c", "echo 'ERROR drill: injected crash'; exit 1"])
        self.roll_out(
            {
                "metadata": {"annotations": {"fake-kubelet/fail": "crash"}},
                "spec": {"containers": [crashing]},
            }
        )

    def present(self) -> bool:
        return any(
            cs.state and cs.state.waiting and cs.state.waiting.reason == "CrashLoopBackOff"
            for pod in self.pods()
            for cs in self._statuses(pod)
        )


@register
class OomKill(DeploymentFault):
    """20 MiB held in memory under a 16 MiB limit: killed until the limit is raised."""

    kind = "oom-kill"
    annotations = {"fake-kubelet/usage": "memory=20Mi"}
    LIMIT = "16Mi"

    def container(self) -> dict[str, Any]:
        fill = "dd if=/dev/zero of=/dev/shm/fill bs=1048576 count=20 && exec sleep 3600"
        return _container(["sh", "-c", fill], resources={"limits": {"memory": self.LIMIT}})

    def present(self) -> bool:
        return any(
            cs.last_state
            and cs.last_state.terminated
            and cs.last_state.terminated.reason == "OOMKilled"
            for pod in self.pods()
            for cs in self._statuses(pod)
        )


@register
class BadRollout(DeploymentFault):
    """Revision 1 runs; revision 2 ships an image that cannot be pulled (roll back to 1)."""

    kind = "bad-rollout"

    def manifest(self) -> dict[str, Any]:
        body = super().manifest()
        body["spec"]["strategy"] = {"type": "Recreate"}  # the old pods go first: an outage
        return body

    def inject(self) -> None:
        super().inject()
        self.roll_out({"spec": {"containers": [_container(["sleep", "3600"], BAD_IMAGE)]}})

    def present(self) -> bool:
        pulling = ("ErrImagePull", "ImagePullBackOff")
        return self._revision() == "2" and any(
            cs.image == BAD_IMAGE
            and cs.state
            and cs.state.waiting
            and cs.state.waiting.reason in pulling
            for pod in self.pods()
            for cs in self._statuses(pod)
        )
