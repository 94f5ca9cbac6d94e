"""Every Kubernetes mitigation, registered: import this module (or any one action's) and each
is in `tasks.destructive.DESTRUCTIVE_ACTIONS` with its item view for the approval form.

All share one shape (`tasks.kubernetes_change`): ``fn(target, plan, approval, *, dry_run)``
→ `Action`, one result per plan item; a server-side dry run (``dryRun=All``) asks the
apiserver itself; an apply reads first (already done → ``NOOP``), changes nothing when the
target moved on since the plan (``STALE``: re-plan and ask again), and writes with the
object's ``resourceVersion`` (or a pod's uid) as a precondition.
"""

from __future__ import annotations

from tasks.kubernetes_limits import patch_container_limits
from tasks.kubernetes_pods import delete_pod
from tasks.kubernetes_restart import restart_deployment
from tasks.kubernetes_rollback import rollback_deployment
from tasks.kubernetes_scaling import scale_workload

__all__ = [
    "KUBERNETES_ACTIONS",
    "delete_pod",
    "patch_container_limits",
    "restart_deployment",
    "rollback_deployment",
    "scale_workload",
]

KUBERNETES_ACTIONS = {
    "rollback_deployment": rollback_deployment,
    "patch_container_limits": patch_container_limits,
    "restart_deployment": restart_deployment,
    "delete_pod": delete_pod,
    "scale_workload": scale_workload,
}
