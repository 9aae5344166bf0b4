"""The request-shape check lets every shape Slack sends through and stops the ones Bolt would crash on."""

from __future__ import annotations

from typing import Any

import pytest

from bot.slack.shape import shape_problem

USER = {"id": "U061F7AUR", "username": "ana", "name": "ana", "team_id": "T0CAG"}

# Shapes as Slack documents and sends them (nulls and fields the app never reads included).
GENUINE: dict[str, Any] = {
    "slash command (form fields)": {
        "token": "t", "team_id": "T0CAG", "team_domain": "x", "channel_id": "C1", "user_id": "U1",
        "command": "/chatrooms", "text": "list", "response_url": "https://hooks.slack.com/commands/1",
        "trigger_id": "1.2.3", "api_app_id": "A1", "is_enterprise_install": "false",
    },
    "block_actions in a bot message": {
        "type": "block_actions", "user": USER, "api_app_id": "A1", "token": "t", "trigger_id": "1.2.3",
        "team": {"id": "T0CAG", "domain": "x"}, "enterprise": None, "is_enterprise_install": False,
        "container": {"type": "message", "message_ts": "1.2", "channel_id": "C1", "is_ephemeral": False},
        "channel": {"id": "C1", "name": "general"},
        "message": {"type": "message", "bot_id": "B1", "user": "U0BOT", "ts": "1.2", "text": "x",
                    "blocks": [{"type": "section", "block_id": "b"}], "attachments": []},
        "state": {"values": {}},
        "response_url": "https://hooks.slack.com/actions/1",
        "actions": [{"action_id": "chatrooms.row.menu", "block_id": "b", "type": "overflow",
                     "selected_option": {"text": {"type": "plain_text", "text": "Show"}, "value": "show:1"},
                     "action_ts": "1.3"}],
    },
    "block_actions in a modal, a cleared select": {
        "type": "block_actions", "user": USER, "team": None, "trigger_id": "1.2.3",
        "container": {"type": "view", "view_id": "V1"},
        "view": {"id": "V1", "team_id": "T0CAG", "type": "modal", "callback_id": "run", "private_metadata": "{}",
                 "hash": "h", "previous_view_id": None, "root_view_id": "V1", "app_installed_team_id": "T0CAG",
                 "blocks": [], "state": {"values": {"b": {"a": {"type": "static_select", "selected_option": None}}}}},
        "actions": [{"action_id": "run.pick", "block_id": "run.pick", "type": "static_select",
                     "selected_option": None, "action_ts": "1.3"}],
    },
    "view_submission": {
        "type": "view_submission", "team": {"id": "T0CAG", "domain": "x", "enterprise_id": "E1"}, "user": USER,
        "view": {"id": "V1", "callback_id": "chatrooms.edit.modal", "private_metadata": "{\"chatroom_id\": 1}",
                 "state": {"values": {"name": {"name": {"type": "plain_text_input", "value": None}}}}},
        "response_urls": [{"block_id": "b", "action_id": "a", "channel_id": "C1", "response_url": "https://x"}],
        "is_enterprise_install": False, "enterprise": {"id": "E1", "name": "Grid"},
    },
    "block_suggestion": {
        "type": "block_suggestion", "user": USER, "team": {"id": "T0CAG"}, "action_id": "run.rooms",
        "block_id": "run.rooms", "value": "desk", "view": {"id": "V1", "callback_id": "run"},
    },
    "event_callback app_home_opened": {
        "token": "t", "team_id": "T0CAG", "api_app_id": "A1", "type": "event_callback", "event_id": "Ev1",
        "event_time": 1700000000, "is_ext_shared_channel": False, "event_context": "4-x",
        "event": {"type": "app_home_opened", "user": "U1", "channel": "D1", "tab": "home", "event_ts": "1.2",
                  "view": {"id": "V1", "type": "home"}},
        "authorizations": [{"enterprise_id": None, "team_id": "T0CAG", "user_id": "UBOT", "is_bot": True,
                            "is_enterprise_install": False}],
    },
    "event with an object channel": {"type": "event_callback", "event": {"type": "channel_rename",
                                     "channel": {"id": "C1", "name": "x"}}},
    "url_verification": {"token": "t", "challenge": "abc", "type": "url_verification"},
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(GENUINE))
def test_every_shape_slack_sends_passes(name: str) -> None:
    assert shape_problem(GENUINE[name]) is None


IMPOSSIBLE: dict[str, Any] = {
    "a list body": [GENUINE["view_submission"]],
    "actions an object": {"type": "block_actions", "actions": {"action_id": "x"}},
    "an action a string": {"type": "block_actions", "actions": ["x"]},
    "an action without its id": {"type": "block_actions", "actions": [{"block_id": "b"}]},
    "action_id a number": {"type": "block_actions", "actions": [{"action_id": 7}]},
    "view null is allowed, a list is not": {"type": "view_submission", "view": [1]},
    "state.values a list": {"view": {"state": {"values": []}}},
    "private_metadata an object": {"view": {"private_metadata": {"a": 1}}},
    "user a string": {"type": "block_actions", "user": "U1"},
    "user.id a number": {"user": {"id": 1}},
    "team a list": {"team": ["T1"]},
    "event a list": {"type": "event_callback", "event": [1]},
    "event without a type": {"type": "event_callback", "event": {"user": "U1"}},
    "authorizations an object": {"authorizations": {"team_id": "T"}},
    "container a string": {"container": "x"},
    "type a number": {"type": 3},
    "response_url not a URL": {"type": "block_actions", "response_url": "[]"},
    "response_url a quoted URL": {"response_url": '"https://hooks.slack.com/x"'},
    "response_urls holding junk": {"type": "view_submission", "response_urls": [{"response_url": {"0": []}}]},
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(IMPOSSIBLE))
def test_shapes_slack_never_sends_are_named_without_their_values(name: str) -> None:
    problem = shape_problem(IMPOSSIBLE[name])
    assert problem is not None
    assert "x" * 3 not in problem and "{" not in problem  # where and what kind, never the content
