"""Would real Slack take this payload? The fake Slack and the tests ask here, so a payload Slack refuses
(or renders wrongly) fails a test instead of a user.

Two layers, both pure:

* `slack_sdk.models`: each block is parsed with `Block.parse` and serialised with `to_dict()` (which runs
  `validate_json()` on every nested object), a view with `View(**view)`; a property the model drops is
  either unknown to Slack or an empty array, both of which Slack refuses.
* The rules slack_sdk does not check: action_id unique within a block and block_id within a message or
  view; datetimepicker/datepicker/timepicker values in range; initial options among the options and no
  more than `max_selected_items`; number inputs' initial values within their bounds; a fallback `text`
  with blocks; and user data escaped in mrkdwn (`&`, `<`, `>` only as `&amp;` `&lt;` `&gt;` or as part of
  a Slack link, mention or date).

Each problem reads like Slack's own `response_metadata.messages` (`[ERROR] … [json-pointer:/blocks/0]`).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from bot.slack import limits

Json = dict[str, Any]

# slack_sdk logs a warning for an unknown block type; the problem list says it instead.
logging.getLogger("slack_sdk.models.blocks.blocks").setLevel(logging.ERROR)
logging.getLogger("slack_sdk.models.blocks.block_elements").setLevel(logging.ERROR)


@dataclass(frozen=True)
class Problem:
    pointer: str
    why: str

    def __str__(self) -> str:
        return f"[ERROR] {self.why} [json-pointer:{self.pointer}]"


# Slack's control sequences: links, user/channel mentions, special mentions and dates.
_CONTROL = re.compile(
    r"<(?:[@#][A-Z0-9][A-Za-z0-9._-]*(?:\|[^<>]*)?"
    r"|![a-z]+(?:\^[^<>|]*)*(?:\|[^<>]*)?"
    r"|(?:https?|mailto|tel|slack):[^<>|\s]+(?:\|[^<>]*)?)>"
)
_ENTITY = re.compile(r"&(?:amp|lt|gt);")
_SELECTS_WITH_OPTIONS = frozenset({"static_select", "multi_static_select", "checkboxes", "radio_buttons"})
_MULTI_SELECTS = frozenset(
    {
        "multi_static_select",
        "multi_external_select",
        "multi_users_select",
        "multi_conversations_select",
        "multi_channels_select",
    }
)


def mrkdwn_problems(text: str, pointer: str) -> list[Problem]:
    """`&`, `<` and `>` must be escaped unless they belong to a Slack control sequence; `>` may open a quote."""
    rest = _CONTROL.sub("", text)
    rest = _ENTITY.sub("", rest)
    rest = re.sub(r"(?m)^>", "", rest)  # a blockquote
    found = [c for c in "&<>" if c in rest]
    if not found:
        return []
    sample = next(m for m in re.finditer(r".{0,20}[&<>].{0,20}", rest, re.S)).group(0)
    return [Problem(pointer, f"unescaped {' '.join(repr(c) for c in found)} in mrkdwn text near {sample!r}")]


def message_problems(args: Json, *, pointer: str = "") -> list[Problem]:
    """A chat.postMessage / postEphemeral / update or response_url body: its blocks and its text."""
    problems: list[Problem] = []
    blocks = args.get("blocks")
    text = args.get("text")
    if blocks is not None:
        if not isinstance(blocks, list):
            return [Problem(f"{pointer}/blocks", "blocks must be an array")]
        if len(blocks) > limits.MAX_MESSAGE_BLOCKS:
            problems.append(Problem(f"{pointer}/blocks", f"no more than {limits.MAX_MESSAGE_BLOCKS} items allowed"))
        problems += blocks_problems(blocks, f"{pointer}/blocks")
        if blocks and not (isinstance(text, str) and text.strip()):
            problems.append(Problem(f"{pointer}/text", "a message with blocks needs a fallback text"))
    if isinstance(text, str):
        if len(text) > limits.MAX_MESSAGE_TEXT:
            problems.append(Problem(f"{pointer}/text", f"text must be at most {limits.MAX_MESSAGE_TEXT} characters"))
        if args.get("mrkdwn") is not False:
            problems += mrkdwn_problems(text, f"{pointer}/text")
    return problems


def view_problems(view: Any, *, pointer: str = "/view") -> list[Problem]:
    """A modal or Home tab as views.open/update/push/publish or a `response_action` would send it."""
    if not isinstance(view, dict):
        return [Problem(pointer, "missing required field: view")]
    kind = view.get("type")
    if kind not in ("modal", "home"):
        return [Problem(f"{pointer}/type", f"invalid view type: {kind}")]
    blocks = view.get("blocks")
    if not isinstance(blocks, list):
        return [Problem(f"{pointer}/blocks", "missing required field: blocks")]
    problems: list[Problem] = []
    try:
        # The blocks are checked one by one below; a stand-in keeps View's own count check quiet.
        View(**{k: v for k, v in view.items() if k != "blocks"}, blocks=[{"type": "divider"}]).validate_json()
    except (SlackObjectFormationError, TypeError, AttributeError) as exc:
        problems.append(Problem(pointer, str(exc)))
    if not blocks or len(blocks) > limits.MAX_MODAL_BLOCKS:
        problems.append(
            Problem(f"{pointer}/blocks", f"views must contain between 1 and {limits.MAX_MODAL_BLOCKS} blocks")
        )
    if kind == "modal":
        if not isinstance(view.get("title"), dict) or not view["title"].get("text"):
            problems.append(Problem(f"{pointer}/title", "missing required field: title"))
        if any(isinstance(b, dict) and b.get("type") == "input" for b in blocks) and not view.get("submit"):
            problems.append(Problem(f"{pointer}/submit", "submit is required when an input block is present"))
        for key in ("title", "submit", "close"):
            obj = view.get(key)
            if isinstance(obj, dict) and obj.get("type") != "plain_text":
                problems.append(Problem(f"{pointer}/{key}/type", f"{key} must be a plain_text object"))
    problems += blocks_problems(blocks, f"{pointer}/blocks")
    return problems


def ack_problems(body: Any, submitted_view: Json | None = None) -> list[Problem]:
    """What an app answers in an ack: a message (slash commands), or a `response_action` (view submissions)."""
    if not isinstance(body, dict):
        return []
    action = body.get("response_action")
    if action in ("update", "push"):
        return view_problems(body.get("view"), pointer="/view")
    if action == "errors":
        errors = body.get("errors")
        if not isinstance(errors, dict) or not errors:
            return [Problem("/errors", "errors must be a non-empty object")]
        inputs = {
            b.get("block_id")
            for b in (submitted_view or {}).get("blocks") or []
            if isinstance(b, dict) and b.get("type") == "input"
        }
        problems = [
            Problem(f"/errors/{key}", "errors must name an input block of the submitted view")
            for key in errors
            if submitted_view is not None and key not in inputs
        ]
        problems += [
            Problem(f"/errors/{key}", "an error must be a non-empty string")
            for key, text in errors.items()
            if not isinstance(text, str) or not text
        ]
        return problems
    if action is not None and action != "clear":
        return [Problem("/response_action", f"unknown response_action {action!r}")]
    if "text" in body or "blocks" in body:
        return message_problems(body)
    return []


# ---------------------------------------------------------------------------------------- blocks


def blocks_problems(blocks: list[Any], pointer: str) -> list[Problem]:
    problems: list[Problem] = []
    block_ids: set[str] = set()
    for index, block in enumerate(blocks):
        here = f"{pointer}/{index}"
        if not isinstance(block, dict):
            problems.append(Problem(here, "a block must be an object"))
            continue
        problems += _model_problems(block, here)
        block_id = block.get("block_id")
        if isinstance(block_id, str):
            if block_id in block_ids:
                problems.append(Problem(f"{here}/block_id", f"duplicate block_id: {block_id}"))
            block_ids.add(block_id)
        action_ids: set[str] = set()
        for element, where in _elements(block, here):
            action_id = element.get("action_id")
            if isinstance(action_id, str):
                if action_id in action_ids:
                    problems.append(Problem(f"{where}/action_id", f"duplicate action_id in one block: {action_id}"))
                action_ids.add(action_id)
            problems += _element_problems(element, where)
        problems += _text_problems(block, here)
    return problems


def _model_problems(block: Json, pointer: str) -> list[Problem]:
    """slack_sdk's own validation, and what its model drops (unknown properties, empty arrays)."""
    try:
        parsed = Block.parse(block)
        if parsed is None:
            return [Problem(f"{pointer}/type", f"unknown block type: {block.get('type')}")]
        produced = parsed.to_dict()
    except SlackObjectFormationError as exc:
        return [Problem(pointer, str(exc))]
    except (TypeError, AttributeError, KeyError, ValueError) as exc:
        return [Problem(pointer, f"malformed block: {exc}")]
    return _dropped(block, produced, pointer)


def _dropped(given: Any, produced: Any, pointer: str) -> list[Problem]:
    problems: list[Problem] = []
    if isinstance(given, dict) and isinstance(produced, dict):
        for key, value in given.items():
            here = f"{pointer}/{key}"
            if key not in produced:
                if value is None or value is False or value == "":
                    continue
                if isinstance(value, list | dict) and not value:
                    problems.append(Problem(here, f"{key} must not be empty"))
                else:
                    problems.append(Problem(here, f"invalid additional property: {key}"))
                continue
            problems += _dropped(value, produced[key], here)
    elif isinstance(given, list) and isinstance(produced, list):
        if len(given) != len(produced):
            return [Problem(pointer, "some items were not recognised")]
        for index, (a, b) in enumerate(zip(given, produced, strict=True)):
            problems += _dropped(a, b, f"{pointer}/{index}")
    return problems


def _elements(block: Json, pointer: str) -> list[tuple[Json, str]]:
    """The interactive elements of a block, with their pointers."""
    found: list[tuple[Json, str]] = []
    elements = block.get("elements")
    if block.get("type") in ("actions", "context_actions") and isinstance(elements, list):
        found += [(e, f"{pointer}/elements/{i}") for i, e in enumerate(elements) if isinstance(e, dict)]
    for key in ("accessory", "element"):
        if isinstance(block.get(key), dict):
            found.append((block[key], f"{pointer}/{key}"))
    return found


def _option_key(option: Any) -> tuple[Any, Any]:
    text = option.get("text") if isinstance(option, dict) else None
    return (
        option.get("value") if isinstance(option, dict) else None,
        text.get("text") if isinstance(text, dict) else None,
    )


def _element_problems(element: Json, pointer: str) -> list[Problem]:
    problems: list[Problem] = []
    kind = element.get("type")
    if kind == "datetimepicker" and "initial_date_time" in element:
        stamp = element["initial_date_time"]
        if isinstance(stamp, bool) or not isinstance(stamp, int) or not 0 <= stamp <= limits.MAX_DATE_TIME:
            problems.append(
                Problem(f"{pointer}/initial_date_time", f"must be a UNIX time in 0..{limits.MAX_DATE_TIME}: {stamp!r}")
            )
    if kind == "datepicker" and "initial_date" in element:
        try:
            date.fromisoformat(str(element["initial_date"]))
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(element["initial_date"])):
                raise ValueError
        except ValueError:
            problems.append(Problem(f"{pointer}/initial_date", "must be a date as YYYY-MM-DD"))
    if kind == "timepicker" and "initial_time" in element:
        try:
            datetime.strptime(str(element["initial_time"]), "%H:%M")
        except ValueError:
            problems.append(Problem(f"{pointer}/initial_time", "must be a time as HH:mm"))
    if kind in _SELECTS_WITH_OPTIONS:
        offered = {_option_key(o) for o in element.get("options") or []}
        for group in element.get("option_groups") or []:
            offered |= {_option_key(o) for o in (group or {}).get("options") or []}
        initial = element.get("initial_options") or []
        if element.get("initial_option") is not None:
            initial = [element["initial_option"], *initial]
        for option in initial:
            if _option_key(option) not in offered:
                problems.append(
                    Problem(
                        f"{pointer}/initial_option", f"initial option {_option_key(option)} is not among the options"
                    )
                )
    if kind in _MULTI_SELECTS:
        most = element.get("max_selected_items")
        chosen = element.get("initial_options") or element.get("initial_users") or element.get("initial_conversations")
        chosen = chosen or element.get("initial_channels") or []
        if isinstance(most, int) and len(chosen) > most:
            problems.append(
                Problem(
                    f"{pointer}/initial_options", f"{len(chosen)} initial items, more than max_selected_items ({most})"
                )
            )
    if kind == "number_input" and element.get("initial_value") not in (None, ""):
        problems += _number_problems(element, pointer)
    max_length = element.get("max_length")
    initial_value = element.get("initial_value")
    text_input = kind in ("plain_text_input", "email_text_input", "url_text_input")
    if (
        text_input
        and isinstance(initial_value, str)
        and isinstance(max_length, int)
        and len(initial_value) > max_length
    ):
        problems.append(Problem(f"{pointer}/initial_value", "initial_value is longer than max_length"))
    if kind == "button" and len(str(element.get("value") or "")) > limits.MAX_BUTTON_VALUE:
        problems.append(
            Problem(f"{pointer}/value", f"button value must be at most {limits.MAX_BUTTON_VALUE} characters")
        )
    for index, option in enumerate(element.get("options") or []):
        if isinstance(option, dict) and len(str(option.get("value") or "")) > limits.MAX_OPTION_VALUE:
            problems.append(
                Problem(
                    f"{pointer}/options/{index}/value",
                    f"option value must be at most {limits.MAX_OPTION_VALUE} characters",
                )
            )
    return problems


def _number_problems(element: Json, pointer: str) -> list[Problem]:
    try:
        value = float(element["initial_value"])
        low = float(element["min_value"]) if element.get("min_value") not in (None, "") else None
        high = float(element["max_value"]) if element.get("max_value") not in (None, "") else None
    except (TypeError, ValueError):
        return [Problem(f"{pointer}/initial_value", "number_input values must be numbers")]
    if not element.get("is_decimal_allowed") and not re.fullmatch(r"-?\d+", str(element["initial_value"]).strip()):
        return [Problem(f"{pointer}/initial_value", "initial_value must be a whole number")]
    if (low is not None and value < low) or (high is not None and value > high):
        return [Problem(f"{pointer}/initial_value", "initial_value is outside min_value..max_value")]
    return []


def _text_problems(node: Any, pointer: str) -> list[Problem]:
    """Every mrkdwn text object in a block must escape user data."""
    problems: list[Problem] = []
    if isinstance(node, dict):
        if node.get("type") == "mrkdwn" and isinstance(node.get("text"), str):
            problems += mrkdwn_problems(node["text"], f"{pointer}/text")
        for key, value in node.items():
            if isinstance(value, dict | list):
                problems += _text_problems(value, f"{pointer}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            problems += _text_problems(value, f"{pointer}/{index}")
    return problems
