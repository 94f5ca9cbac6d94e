"""Open a dedicated incident channel: create it, set its topic, invite the responders.

Runbook 001 "Start Incident Channel" (``#incident-2024-01-15-payments``). Each Slack call
goes through `tasks.slack_api.call_slack` (the SDK's retry handlers, one deadline each);
the task never raises: a channel that cannot be created comes back with ``error`` set, and
the caller keeps posting to the incident-response channel instead.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from prefect import task
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel, Field
from slack_sdk import WebClient

from blocks.slack import SlackWorkspace
from incident.channel_names import channel_name
from tasks.logs import run_logger
from tasks.slack_api import SlackOutcome, call_slack

__all__ = ["ChannelSetup", "open_incident_channel", "resolve_users"]

_MAX_NAME_ATTEMPTS = 20


class ChannelSetup(BaseModel):
    """What exists after `open_incident_channel`, and what could not be done."""

    channel_id: str = ""
    name: str = ""
    topic_set: bool = False
    invited: list[str] = Field(default_factory=list, description="Slack user ids invited")
    not_invited: dict[str, str] = Field(
        default_factory=dict, description="Who could not be invited, and why"
    )
    error: str = Field("", description="Why the channel itself could not be opened")

    @property
    def opened(self) -> bool:
        return bool(self.channel_id)


def resolve_users(
    slack: SlackWorkspace, people: list[str], call: Callable[..., SlackOutcome] | None = None
) -> tuple[dict[str, str], dict[str, str]]:
    """(person -> Slack user id, person -> why not): ids pass through, e-mails are looked up.

    ``call(fn, max_wait=...)`` runs one Slack call (default: `call_slack` on ``slack``).
    """
    found: dict[str, str] = {}
    missing: dict[str, str] = {}

    def default(fn: Callable[[WebClient], object], *, max_wait: float = 10) -> SlackOutcome:
        return call_slack(slack, fn, max_wait_seconds=max_wait)

    run = call or default
    for person in dict.fromkeys(people):
        if person[:1] in ("U", "W") and person[1:].isalnum() and person.isupper():
            found[person] = person
        elif "@" in person.strip("@"):
            outcome = run(lambda c, e=person: c.users_lookupByEmail(email=e), max_wait=10)
            if outcome.ok:
                found[person] = str(outcome.data["user"]["id"])
            else:
                missing[person] = outcome.error or "not found"
        else:
            missing[person] = "not a Slack user id (U...) or an e-mail: give one in the policy"
    return found, missing


@task(name="open_incident_channel", cache_policy=NO_CACHE)
def open_incident_channel(
    slack: SlackWorkspace,
    *,
    day: date,
    service: str,
    topic: str,
    members: list[str],
    attempts: int = 4,
    max_wait_seconds: float = 30,
) -> ChannelSetup:
    """Create ``incident-<day>-<service>`` (``-2``, ``-3``... if taken), set ``topic``, invite
    ``members`` (Slack user ids or e-mails). Everything that failed is said in the result."""

    def call(
        fn: Callable[[WebClient], object], *, target: str = "", max_wait: float | None = None
    ) -> SlackOutcome:
        limit = max_wait_seconds if max_wait is None else min(max_wait, max_wait_seconds)
        return call_slack(slack, fn, target=target, attempts=attempts, max_wait_seconds=limit)

    setup = ChannelSetup()
    for attempt in range(1, _MAX_NAME_ATTEMPTS + 1):
        name = channel_name(day, service, attempt)
        created = call(lambda c, n=name: c.conversations_create(name=n), target=f"#{name}")
        if created.ok:
            setup.channel_id, setup.name = str(created.data["channel"]["id"]), name
            break
        if created.code != "name_taken":
            setup.error = created.error
            break
    else:
        setup.error = f"{_MAX_NAME_ATTEMPTS} channel names for {service} on {day} are all taken"
    logger = run_logger()
    if not setup.opened:
        logger.warning("incident channel not opened: %s", setup.error)
        return setup
    target = f"#{setup.name}"
    topic_set = call(
        lambda c: c.conversations_setTopic(channel=setup.channel_id, topic=topic[:250]),
        target=target,
    )
    setup.topic_set = topic_set.ok
    if not topic_set.ok:
        logger.warning("topic of %s not set: %s", target, topic_set.error)
    found, setup.not_invited = resolve_users(slack, members, call)
    ids = list(dict.fromkeys(found.values()))
    if ids:
        batch = call(
            lambda c: c.conversations_invite(channel=setup.channel_id, users=",".join(ids)),
            target=target,
        )
        if batch.ok or batch.code == "already_in_channel":
            setup.invited = ids
        else:  # one by one, so one unknown user does not keep the others out
            for user in ids:
                one = call(
                    lambda c, u=user: c.conversations_invite(channel=setup.channel_id, users=u),
                    target=target,
                )
                if one.ok or one.code == "already_in_channel":
                    setup.invited.append(user)
                else:
                    setup.not_invited[user] = one.error
    return setup
