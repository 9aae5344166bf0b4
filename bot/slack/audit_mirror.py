"""Mirroring new audit entries to the workspace's audit channel, without ever slowing or failing the action.

`AuditMirror` is what `Audit.mirror` calls with each new entry: it only queues it; one background thread
posts the entries in order. If Slack refuses (the app was removed from the channel, the channel archived),
the entry is still in the store, the failure is logged, and the person who set the channel is told once by
direct message (again only after a post there worked in between) — as alert channels are handled.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.deps import Deps
from bot.installations import client_for_team
from bot.slack.views.audit import render_mirror
from bot.store import AuditEntry, Store

log = logging.getLogger(__name__)

ClientFor = Callable[[str, str | None], WebClient | None]


class AuditMirror:
    def __init__(self, store: Store, client_for: ClientFor) -> None:
        self.store = store
        self.client_for = client_for
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="audit-mirror")

    def __call__(self, entry: AuditEntry) -> None:
        self.submit(entry)

    def submit(self, entry: AuditEntry) -> Future[None]:
        """Queue one entry for its workspace's audit channel (if it has one)."""
        return self._executor.submit(self._post, entry)

    def close(self) -> None:
        self._executor.shutdown(wait=True)

    def _post(self, entry: AuditEntry) -> None:
        try:
            setting = self.store.audit_channel(entry.team_id)
            if setting is None:
                return
            client = self.client_for(entry.team_id, entry.enterprise_id)
            if client is None:
                log.info("audit %s: workspace %s has no Slack client; not mirrored", entry.key, entry.team_id)
                return
            try:
                client.chat_postMessage(channel=setting.channel_id, **render_mirror(entry))
            except SlackApiError as exc:
                error = str(exc.response.get("error") or "error")
                log.warning(
                    "audit %s: not mirrored to %s (%s); it is kept in the store", entry.key, setting.channel_id, error
                )
                if self.store.audit_mirror_state(entry.team_id, setting.channel_id, error):
                    self._tell_setter(client, setting.set_by, setting.channel_id, error)
                return
            if setting.failing:
                self.store.audit_mirror_state(entry.team_id, setting.channel_id, None)
        except Exception:
            log.exception("audit %s: mirroring failed; the entry is kept in the store", entry.key)

    @staticmethod
    def _tell_setter(client: WebClient, user_id: str, channel_id: str, error: str) -> None:
        text = (
            f":warning: I could not post the audit trail in <#{channel_id}> ({error}). The entries are still "
            "kept: `/chatrooms audit` shows them. Invite me back to that channel "
            f"(`/invite @chatrooms`), or choose another with `/chatrooms audit channel #channel`."
        )
        try:
            client.chat_postMessage(channel=user_id, text=text)
        except SlackApiError as exc:
            log.warning(
                "audit channel %s: could not tell %s either (%s)", channel_id, user_id, exc.response.get("error")
            )


def audit_clients(deps: Deps, client: WebClient) -> Callable[[str, str | None], WebClient | None]:
    """The Slack client that mirrors a workspace's audit entries: the app's own (one workspace), or one with
    the workspace's bot token from the installation store (the distributed app)."""
    if deps.installations is None:
        return lambda team_id, enterprise_id: client
    url = deps.settings.slack_api_url
    return client_for_team(deps.installations, lambda token: WebClient(token=token, base_url=url))
