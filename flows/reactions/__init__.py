"""Channels that react to the incident record (Dispatch's plugins): each module here reads
one incident's record and does what its channel owes it, idempotently, from the timeline.

`flows.notify_due` runs every plugin for every open incident on a schedule; the engine may
run them right after a status change for immediacy. Adding a channel is adding a module to
`PLUGINS`; no scenario flow changes.
"""

from flows.reactions import approvals, escalations, pager, slack_room, status_page, updates
from flows.reactions.situation import Channels, Situation, incident_from_row

PLUGINS = (slack_room, pager, status_page, escalations, approvals, updates)
"""In this order: the room exists before anything is posted in it; pages before updates."""

__all__ = ["PLUGINS", "Channels", "Situation", "incident_from_row"]
