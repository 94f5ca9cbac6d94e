"""The alert receiver: the front door every alert comes through, and Slack's approvals.

Alertmanager, Grafana, PagerDuty and a generic JSON form post here; each request is
authenticated as its sender does it, validated, persisted in the incident record (one
incident per alert group) and answered at once; the routed deployment is started in the
background, and retried until the Prefect API takes it. See README, "Alert receiver".
"""

from receiver.app import create_app
from receiver.server import running, serve
from receiver.settings import ReceiverSettings
from receiver.slack_blocks import approval_request_blocks

__all__ = ["ReceiverSettings", "approval_request_blocks", "create_app", "running", "serve"]
