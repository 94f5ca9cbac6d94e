"""Prefect blocks: one per external system, plus the policy and the record store.

Register them with the API (so the UI offers their forms): ``prefect block register -m blocks``.
"""

from blocks.http import HealthEndpoints, HttpEndpoint
from blocks.kubernetes import KubernetesTarget
from blocks.loading import BlockNotFound, load_block, resolve_block
from blocks.pager import PagerDutyService
from blocks.policy import IncidentPolicyBlock
from blocks.postgres import PostgresTarget
from blocks.prometheus import PrometheusTarget
from blocks.redis import RedisTarget
from blocks.routing import RoutingRulesBlock
from blocks.slack import SlackWorkspace
from blocks.statuspage import StatusPage
from blocks.store import IncidentStore

__all__ = [
    "BlockNotFound",
    "HealthEndpoints",
    "HttpEndpoint",
    "IncidentPolicyBlock",
    "IncidentStore",
    "KubernetesTarget",
    "PagerDutyService",
    "PostgresTarget",
    "PrometheusTarget",
    "RedisTarget",
    "RoutingRulesBlock",
    "SlackWorkspace",
    "StatusPage",
    "load_block",
    "resolve_block",
]
