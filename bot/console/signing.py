"""Build requests exactly as Slack sends them to a Bolt app, signed with the app's signing secret.

Tests and the local console use these to drive the real Bolt request pipeline (signature check
included) instead of calling listeners directly.
"""

from __future__ import annotations

import copy
import itertools
import json
import time
from typing import Any
from urllib.parse import quote, urlencode

from slack_sdk.signature import SignatureVerifier

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
JSON_CONTENT_TYPE = "application/json"

DEFAULT_API_APP_ID = "A0001"
DEFAULT_TEAM_DOMAIN = "sandbox"
DEFAULT_USER_NAME = "operator"

_counter = itertools.count(1)


def sign(body: str, secret: str, timestamp: int | None = None) -> dict[str, str]:
    """Return the two headers Slack adds so Bolt's request verification accepts ``body``."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    assert signature is not None  # only None when the timestamp is None
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature}


def signed_headers(body: str, secret: str, timestamp: int | None = None) -> dict[str, str]:
    """Signature headers plus the Content-Type Slack uses for this kind of body (JSON for events)."""
    content_type = JSON_CONTENT_TYPE if body.lstrip().startswith("{") else FORM_CONTENT_TYPE
    return {"Content-Type": content_type, **sign(body, secret, timestamp)}


def new_trigger_id() -> str:
    """A unique, realistically shaped trigger_id (Slack's are ``<num>.<num>.<hex>``)."""
    n = next(_counter)
    return f"{1700000000 + n}.{100000 + n}.{n:032x}"


def slash_command_body(
    command: str,
    text: str,
    user_id: str,
    team_id: str,
    channel_id: str,
    response_url: str,
    trigger_id: str,
    *,
    user_name: str = DEFAULT_USER_NAME,
    channel_name: str | None = None,
    team_domain: str = DEFAULT_TEAM_DOMAIN,
    api_app_id: str = DEFAULT_API_APP_ID,
    token: str = "verification-token",
) -> str:
    """The urlencoded form body of a slash command invocation."""
    fields = {
        "token": token,
        "team_id": team_id,
        "team_domain": team_domain,
        "channel_id": channel_id,
        "channel_name": channel_name or _default_channel_name(channel_id),
        "user_id": user_id,
        "user_name": user_name,
        "command": command,
        "text": text,
        "api_app_id": api_app_id,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id,
    }
    return urlencode(fields)


def block_actions_body(
    actions: list[dict[str, Any]] | dict[str, Any],
    *,
    user_id: str,
    team_id: str,
    trigger_id: str,
    channel_id: str | None = None,
    message: dict[str, Any] | None = None,
    response_url: str | None = None,
    view: dict[str, Any] | None = None,
    is_ephemeral: bool = False,
    state_values: dict[str, Any] | None = None,
    user_name: str = DEFAULT_USER_NAME,
    team_domain: str = DEFAULT_TEAM_DOMAIN,
    api_app_id: str = DEFAULT_API_APP_ID,
) -> str:
    """A ``block_actions`` payload, from a message (pass ``message``) or from a view (pass ``view``).

    Slack only includes ``channel``, ``message`` and ``response_url`` for actions in messages;
    actions in modals and App Home carry the whole ``view`` (with its current ``state``) instead.
    """
    action_list = [actions] if isinstance(actions, dict) else list(actions)
    stamped = [{**a, "action_ts": a.get("action_ts", _action_ts())} for a in action_list]
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": _user(user_id, team_id, user_name),
        "api_app_id": api_app_id,
        "token": "verification-token",
        "trigger_id": trigger_id,
        "team": {"id": team_id, "domain": team_domain},
        "enterprise": None,
        "is_enterprise_install": False,
    }
    if view is not None:
        full_view = _view_with_state(view, state_values if state_values is not None else _state_of(view))
        payload["container"] = {"type": "view", "view_id": full_view.get("id", "")}
        payload["view"] = full_view
    else:
        if channel_id is None:
            raise ValueError("block_actions from a message need channel_id")
        msg = dict(message or {})
        message_ts = str(msg.get("ts", ""))
        payload["container"] = {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel_id,
            "is_ephemeral": is_ephemeral,
        }
        payload["channel"] = {"id": channel_id, "name": _default_channel_name(channel_id)}
        if not is_ephemeral:
            payload["message"] = {"type": "message", **msg}
        payload["state"] = {"values": state_values or {}}
        if response_url is not None:
            payload["response_url"] = response_url
    payload["actions"] = stamped
    return _payload_form(payload)


def view_submission_body(
    view: dict[str, Any],
    values: dict[str, dict[str, dict[str, Any]]],
    *,
    user_id: str,
    team_id: str,
    trigger_id: str,
    response_urls: list[dict[str, str]] | None = None,
    user_name: str = DEFAULT_USER_NAME,
    team_domain: str = DEFAULT_TEAM_DOMAIN,
    api_app_id: str = DEFAULT_API_APP_ID,
) -> str:
    """A ``view_submission`` payload: the whole view as Slack knows it, with ``state.values`` filled."""
    payload = {
        "type": "view_submission",
        "team": {"id": team_id, "domain": team_domain},
        "user": _user(user_id, team_id, user_name),
        "api_app_id": api_app_id,
        "token": "verification-token",
        "trigger_id": trigger_id,
        "view": _view_with_state(view, values),
        "response_urls": response_urls or [],
        "is_enterprise_install": False,
        "enterprise": None,
    }
    return _payload_form(payload)


def view_closed_body(
    view: dict[str, Any],
    *,
    user_id: str,
    team_id: str,
    is_cleared: bool = False,
    user_name: str = DEFAULT_USER_NAME,
    team_domain: str = DEFAULT_TEAM_DOMAIN,
    api_app_id: str = DEFAULT_API_APP_ID,
) -> str:
    """A ``view_closed`` payload (only sent by Slack when the view has ``notify_on_close``)."""
    payload = {
        "type": "view_closed",
        "team": {"id": team_id, "domain": team_domain},
        "user": _user(user_id, team_id, user_name),
        "api_app_id": api_app_id,
        "token": "verification-token",
        "view": _view_with_state(view, _state_of(view)),
        "is_cleared": is_cleared,
        "is_enterprise_install": False,
        "enterprise": None,
    }
    return _payload_form(payload)


def event_body(
    event: dict[str, Any],
    team_id: str,
    *,
    api_app_id: str = DEFAULT_API_APP_ID,
    bot_user_id: str = "UBOT",
    event_id: str | None = None,
    event_time: int | None = None,
) -> str:
    """An Events API ``event_callback`` envelope (JSON, unlike the interactive payloads)."""
    n = next(_counter)
    envelope = {
        "token": "verification-token",
        "team_id": team_id,
        "api_app_id": api_app_id,
        "event": event,
        "type": "event_callback",
        "event_id": event_id or f"Ev{n:09d}",
        "event_time": event_time if event_time is not None else int(time.time()),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": team_id,
                "user_id": bot_user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": f"4-fake-{n}",
    }
    return json.dumps(envelope)


def _payload_form(payload: dict[str, Any]) -> str:
    """Interactive payloads arrive as a single urlencoded ``payload`` form field holding JSON."""
    return "payload=" + quote(json.dumps(payload))


def _user(user_id: str, team_id: str, user_name: str) -> dict[str, str]:
    return {"id": user_id, "username": user_name, "name": user_name, "team_id": team_id}


def _view_with_state(view: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """Fill in the fields Slack always includes in a view, keeping whatever the caller gave."""
    full: dict[str, Any] = {
        "id": "",
        "team_id": "",
        "type": "modal",
        "blocks": [],
        "private_metadata": "",
        "callback_id": "",
        "hash": "",
        "clear_on_close": False,
        "notify_on_close": False,
        "previous_view_id": None,
        "root_view_id": view.get("id", ""),
        "app_id": DEFAULT_API_APP_ID,
        "external_id": "",
        "bot_id": "BBOT",
    }
    full.update(copy.deepcopy(view))
    full["state"] = {"values": copy.deepcopy(values)}
    return full


def _state_of(view: dict[str, Any]) -> dict[str, Any]:
    state = view.get("state") or {}
    values = state.get("values") if isinstance(state, dict) else None
    return values if isinstance(values, dict) else {}


def _action_ts() -> str:
    return f"{time.time():.6f}"


def _default_channel_name(channel_id: str) -> str:
    if channel_id.startswith("D"):
        return "directmessage"
    return f"channel-{channel_id.lower()}"
