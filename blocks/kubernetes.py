"""Where a Kubernetes cluster is and which of its workloads a runbook watches.

The block holds configuration only: a kubeconfig *path* and context (or in-cluster), never
credentials, so a saved block document carries no secret. `api_client()` turns it into a
fresh `kubernetes.client.ApiClient`; tasks in `tasks/kubernetes.py` do the talking.
"""

from __future__ import annotations

import os

from kubernetes import client, config
from prefect.blocks.core import Block
from pydantic import Field

__all__ = ["KubernetesTarget"]


class KubernetesTarget(Block):
    """A Kubernetes namespace to diagnose, reached through a kubeconfig or in-cluster config.

    Each call to `api_client()` builds a new client from this block's own configuration (never
    the process-wide default), so one worker can watch several clusters at once.

    Example:
        Load a saved target and list its deployments:
        ```python
        from kubernetes import client
        from blocks import KubernetesTarget

        target = KubernetesTarget.load("BLOCK_NAME")
        with target.api_client() as api:
            client.AppsV1Api(api).list_namespaced_deployment(target.namespace)
        ```
    """

    _block_type_name = "Kubernetes Target"
    _description = (
        "A Kubernetes namespace Firebreak's runbooks diagnose: how to reach the cluster "
        "(kubeconfig and context, or in-cluster) and which deployments to watch."
    )
    _logo_url = "https://cdn.sanity.io/images/3ugk85nk/production/2d0b896006ad463b49c28aaac14f31e00e32cfab-250x250.png"
    _documentation_url = (
        "https://kubernetes.io/docs/concepts/configuration/organize-cluster-access-kubeconfig/"
    )

    kubeconfig_path: str | None = Field(
        default=None,
        description=(
            "Path of the kubeconfig file on the worker; empty means $KUBECONFIG, "
            "else ~/.kube/config."
        ),
    )
    context: str | None = Field(
        default=None,
        description="Kubeconfig context to use; empty means the file's current-context.",
    )
    in_cluster: bool = Field(
        default=False,
        description=(
            "Use the worker pod's ServiceAccount (in-cluster config) instead of a kubeconfig."
        ),
    )
    namespace: str = Field(
        default="production",
        description="Namespace whose deployments, pods and events are diagnosed.",
    )
    workloads: list[str] = Field(
        default_factory=list,
        description="Deployment names to watch; empty means every deployment in the namespace.",
    )
    request_timeout_seconds: float = Field(
        default=10,
        gt=0,
        description="Timeout of each Kubernetes API request, in seconds.",
    )

    @property
    def label(self) -> str:
        """Short human name for findings and messages, e.g. ``k8s:staging/production``."""
        if self.in_cluster:
            where = "in-cluster"
        else:
            where = self.context or self.kubeconfig_path or "default-kubeconfig"
        return f"k8s:{where}/{self.namespace}"

    def kubeconfig_file(self) -> str:
        """The kubeconfig this block reads, resolved now (not at import time) from $KUBECONFIG."""
        if self.kubeconfig_path:
            return os.path.expanduser(self.kubeconfig_path)
        return os.environ.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")

    @property
    def identity(self) -> str:
        """The namespace itself (``kubernetes:https://host:port/namespace``), however the block
        reaches it: plans are bound to it and mitigations on it are serialised by it."""
        return f"kubernetes:{self._configuration().host}/{self.namespace}"

    def _configuration(self) -> client.Configuration:
        configuration = client.Configuration()
        if self.in_cluster:
            config.load_incluster_config(client_configuration=configuration)
        else:
            config.load_kube_config(
                config_file=self.kubeconfig_file(),
                context=self.context,
                client_configuration=configuration,
                persist_config=False,
            )
        configuration.retries = 0
        return configuration

    def api_client(self) -> client.ApiClient:
        """A new ApiClient for this target; close it (or use ``with``) when done.

        Built into a fresh `Configuration`, so the global default client configuration is
        neither read nor changed. urllib3's own retries are off: Prefect task retries,
        with backoff and a retry condition, are the one retry policy.

        Raises `kubernetes.config.ConfigException` (or `OSError`) when the kubeconfig or
        in-cluster environment cannot be loaded.
        """
        return client.ApiClient(configuration=self._configuration())
