"""Plays the Slack side of a conversation with the real Bolt app over HTTP: signed slash commands,
button clicks and modal submissions. Tests and the console both drive the app through it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import requests

from bot.console import signing
from bot.console.fake_slack import FakeSlack, Refusal


@dataclass(frozen=True)
class AckResponse:
    """What the app answered Slack within its 3 seconds."""

    status: int
    body: Any
    elapsed: float
    refusal: Refusal | None = None  # what Slack would refuse in this answer (checked by the fake Slack)

    @property
    def json(self) -> dict[str, Any]:
        return self.body if isinstance(self.body, dict) else {}


@dataclass(frozen=True)
class SlackDriver:
    app_url: str  # e.g. http://127.0.0.1:PORT/slack/events
    secret: str
    fake: FakeSlack
    team_id: str = "T0001"
    user_id: str = "U0001"
    channel_id: str = "C0001"
    timestamp: Callable[[], int] | None = None
    timeout: float = 10.0

    def as_user(self, user_id: str, team_id: str | None = None) -> SlackDriver:
        return replace(self, user_id=user_id, team_id=team_id or self.team_id)

    def post(
        self, body: str, *, headers: dict[str, str] | None = None, view: dict[str, Any] | None = None
    ) -> AckResponse:
        """Send a body signed as Slack would (or with the given headers, to test forgeries); the answer is
        checked as Slack checks it (``view``: the submitted view, whose input blocks ``errors`` must name)."""
        ts = self.timestamp() if self.timestamp else None
        sent = headers if headers is not None else signing.signed_headers(body, self.secret, ts)
        response = requests.post(self.app_url, data=body.encode(), headers=sent, timeout=self.timeout)
        try:
            payload: Any = response.json() if response.content else None
        except ValueError:
            payload = response.text
        refusal = self.fake.check_ack(payload, view) if response.status_code == 200 else None
        return AckResponse(response.status_code, payload, response.elapsed.total_seconds(), refusal)

    def command(self, text: str, *, command: str = "/chatrooms") -> AckResponse:
        body = signing.slash_command_body(
            command,
            text,
            self.user_id,
            self.team_id,
            self.channel_id,
            self.fake.response_url(f"command:{text[:40]}"),
            signing.new_trigger_id(),
        )
        return self.post(body)

    def click(
        self,
        action_id: str,
        value: str | None = None,
        *,
        selected_option: dict[str, Any] | None = None,
        block_id: str = "b",
        message: dict[str, Any] | None = None,
        view: dict[str, Any] | None = None,
        action_type: str = "button",
    ) -> AckResponse:
        """Press a button (or choose a menu option) in a message, a modal or the Home tab."""
        action: dict[str, Any] = {"action_id": action_id, "block_id": block_id, "type": action_type}
        if value is not None:
            action["value"] = value
        if selected_option is not None:
            action["selected_option"] = selected_option
            action["type"] = "overflow" if action_type == "button" else action_type
        body = signing.block_actions_body(
            action,
            user_id=self.user_id,
            team_id=self.team_id,
            trigger_id=signing.new_trigger_id(),
            channel_id=None if view is not None else self.channel_id,
            message=message or {"ts": "1700000000.000100", "text": ""},
            response_url=None if view is not None else self.fake.response_url(f"action:{action_id}"),
            view=view,
        )
        return self.post(body)

    def submit(self, view: dict[str, Any], values: dict[str, dict[str, dict[str, Any]]]) -> AckResponse:
        body = signing.view_submission_body(
            view, values, user_id=self.user_id, team_id=self.team_id, trigger_id=signing.new_trigger_id()
        )
        return self.post(body, view=view)

    def event(self, event: dict[str, Any]) -> AckResponse:
        return self.post(signing.event_body(event, self.team_id))


def find_action(blocks: list[dict[str, Any]], action_id: str) -> dict[str, Any] | None:
    """The first element with this action id in a message's or view's blocks (buttons, accessories)."""
    for block in blocks:
        candidates = list(block.get("elements") or [])
        if isinstance(block.get("accessory"), dict):
            candidates.append(block["accessory"])
        for element in candidates:
            if isinstance(element, dict) and element.get("action_id") == action_id:
                return element
    return None


def dumps(value: Any) -> str:
    return json.dumps(value, indent=1, default=str)
