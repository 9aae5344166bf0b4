"""Block Kit → terminal text, and typed answers → the ``view.state`` Slack would send.

Pure functions over the JSON the app sends to Slack, so the console can show messages and modals
without a workspace, and the tests can check what a person would actually read.
"""

from __future__ import annotations

import calendar
import copy
import html
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

Json = dict[str, Any]

DIVIDER = "─" * 40

_BOLD = ("\x1b[1m", "\x1b[22m")
_ITALIC = ("\x1b[3m", "\x1b[23m")
_STRIKE = ("\x1b[9m", "\x1b[29m")
_DIM = ("\x1b[2m", "\x1b[22m")


# ---------------------------------------------------------------------- data shapes


@dataclass(frozen=True)
class Button:
    """A numbered choice: a button, or one option of an overflow menu or select.

    ``element_type`` is the Block Kit element (``button``, ``overflow``, ``static_select``...);
    ``option`` is the chosen option object for menus. :meth:`action` builds the ``actions[]``
    entry Slack would send when it is picked.
    """

    number: int
    label: str
    action_id: str
    block_id: str | None
    value: str | None = None
    style: str | None = None
    url: str | None = None
    confirm: Json | None = None
    element_type: str = "button"
    option: Json | None = None

    def action(self) -> Json:
        """The entry of ``block_actions.actions`` Slack sends for this choice."""
        entry: Json = {"action_id": self.action_id, "block_id": self.block_id, "type": self.element_type}
        if self.element_type == "button":
            entry["text"] = {"type": "plain_text", "text": self.label, "emoji": True}
            if self.value is not None:
                entry["value"] = self.value
            if self.style:
                entry["style"] = self.style
        elif self.element_type == "checkboxes":
            entry["selected_options"] = [copy.deepcopy(self.option)]
        else:
            entry["selected_option"] = copy.deepcopy(self.option)
        return entry


@dataclass(frozen=True)
class Rendered:
    """A message as text, plus the numbered choices it offers."""

    text: str
    buttons: list[Button] = field(default_factory=list)


@dataclass(frozen=True)
class Field:
    """One ``input`` block of a modal, described for prompting.

    ``kind`` is how to ask for it (see module doc of :func:`field_state`); ``element_type`` is the
    real Block Kit type used in the state Slack sends. ``initial`` is the initial value spelled as
    a person would type it, so ``field_state(f, f.initial)`` equals ``initial_state(f)``.
    """

    block_id: str
    action_id: str
    label: str
    kind: str
    element_type: str
    hint: str | None = None
    optional: bool = False
    multiline: bool = False
    is_decimal_allowed: bool = False
    min_value: str | None = None
    max_value: str | None = None
    min_length: int | None = None
    max_length: int | None = None
    placeholder: str | None = None
    initial: str = ""
    options: list[tuple[str, str]] = field(default_factory=list)
    element: Json = field(default_factory=dict)
    dispatch_action: bool = False  # the input sends block_actions as soon as it changes (Slack's dispatch_action)


@dataclass(frozen=True)
class RenderedModal:
    """A modal: its chrome, its non-input blocks as text, its inputs as fields, and its buttons."""

    title: str
    submit: str | None
    close: str
    callback_id: str
    private_metadata: str
    text: str
    fields: list[Field] = field(default_factory=list)
    buttons: list[Button] = field(default_factory=list)


# ---------------------------------------------------------------------- mrkdwn

_SPECIAL = re.compile(r"<([^<>\n]+)>")
_CODE_BLOCK = re.compile(r"```\n?(.*?)\n?```", re.S)
_CODE = re.compile(r"`([^`\n]+)`")
_PLACEHOLDER = re.compile(r"\x00(\d+)\x00")
_STYLES = (
    (re.compile(r"(?<![\w*])\*(?!\s)([^*\n]+?)(?<!\s)\*(?![\w*])"), _BOLD),
    (re.compile(r"(?<![\w_])_(?!\s)([^_\n]+?)(?<!\s)_(?![\w_])"), _ITALIC),
    (re.compile(r"(?<![\w~])~(?!\s)([^~\n]+?)(?<!\s)~(?![\w~])"), _STRIKE),
)


def mrkdwn(text: str, color: bool = False) -> str:
    """Slack mrkdwn → plain text (ANSI styles when ``color``); emoji codes are kept as typed."""
    kept: list[str] = []

    def keep(value: str) -> str:
        kept.append(value)
        return f"\x00{len(kept) - 1}\x00"

    out = _CODE_BLOCK.sub(lambda m: keep(html.unescape(m.group(1))), text)
    out = _CODE.sub(lambda m: keep("`" + html.unescape(m.group(1)) + "`"), out)
    out = _SPECIAL.sub(lambda m: keep(_special(m.group(1), color)), out)
    for pattern, style in _STYLES:
        out = pattern.sub(_styler(style, color), out)
    out = html.unescape(out)
    return _PLACEHOLDER.sub(lambda m: kept[int(m.group(1))] if int(m.group(1)) < len(kept) else "", out)


def _styler(style: tuple[str, str], color: bool) -> Callable[[re.Match[str]], str]:
    """A substitution that drops mrkdwn markers, wrapping the text in ANSI codes when ``color``."""

    def substitute(match: re.Match[str]) -> str:
        return f"{style[0]}{match.group(1)}{style[1]}" if color else match.group(1)

    return substitute


def _special(inner: str, color: bool) -> str:
    """One ``<...>`` sequence: mentions, dates, links."""
    target, _, label = inner.partition("|")
    label = html.unescape(label)
    if target.startswith("@"):
        return "@" + (label or target[1:])
    if target.startswith("#"):
        return "#" + (label or target[1:])
    if target.startswith("!date^"):
        return label or _format_date(target)
    if target.startswith("!subteam^"):
        return label or "@" + target.split("^", 1)[1]
    if target.startswith("!"):
        return label or "@" + target[1:]
    url = html.unescape(target)
    if not label or label in (url, url.removeprefix("mailto:")):
        return url.removeprefix("mailto:") if label else url
    return f"{mrkdwn(label, color)} ({url})"


def _format_date(target: str) -> str:
    """``!date^<ts>^<tokens>`` without a fallback: show the timestamp in UTC."""
    parts = target.split("^")
    try:
        return datetime.fromtimestamp(int(parts[1]), UTC).strftime("%Y-%m-%d %H:%M UTC")
    except (IndexError, ValueError):
        return target


def text_of(obj: Any, color: bool = False) -> str:
    """A text object (plain_text or mrkdwn) → text; tolerates plain strings and None."""
    if obj is None:
        return ""
    if isinstance(obj, str):
        return obj
    text = str(obj.get("text", ""))
    return mrkdwn(text, color) if obj.get("type") == "mrkdwn" else text


def _style(text: str, style: tuple[str, str], color: bool) -> str:
    return f"{style[0]}{text}{style[1]}" if color and text else text


# ---------------------------------------------------------------------- messages


class _Renderer:
    """Walks blocks, numbering choices as it goes."""

    def __init__(self, start: int, color: bool) -> None:
        self.next_number = start
        self.color = color
        self.buttons: list[Button] = []

    def _add(self, label: str, element: Json, block_id: str | None, option: Json | None = None) -> str:
        button = Button(
            number=self.next_number,
            label=label,
            action_id=str(element.get("action_id", "")),
            block_id=block_id,
            value=option.get("value") if option is not None else element.get("value"),
            style=element.get("style"),
            url=(option or element).get("url"),
            confirm=element.get("confirm"),
            element_type=str(element.get("type", "button")),
            option=copy.deepcopy(option),
        )
        self.next_number += 1
        self.buttons.append(button)
        shown = f"[{button.number}] {label}"
        if button.url:
            shown += f" ↗ ({button.url})"
        if self.color and button.style == "danger":
            return f"\x1b[31m{shown}\x1b[39m"
        if self.color and button.style == "primary":
            return f"\x1b[32m{shown}\x1b[39m"
        return shown

    def element(self, element: Json, block_id: str | None) -> str:
        """An interactive element as one line of numbered choices (or a short placeholder)."""
        kind = element.get("type")
        if kind == "button":
            return self._add(text_of(element.get("text"), False), element, block_id)
        if kind == "image":
            return f"[image: {element.get('alt_text', '')}]"
        if kind in ("overflow", "static_select", "radio_buttons", "checkboxes"):
            choices = [self._add(label, element, block_id, option) for label, option in _options(element)]
            prefix = "⋯" if kind == "overflow" else text_of(element.get("placeholder")) or kind.replace("_", " ")
            return f"{prefix}: " + "  ".join(choices) if choices else f"[{prefix}]"
        placeholder = text_of(element.get("placeholder"))
        return f"[{str(kind).replace('_', ' ')}{': ' + placeholder if placeholder else ''}]"

    def block(self, block: Json) -> str:
        kind = block.get("type")
        block_id = block.get("block_id")
        color = self.color
        if kind == "section":
            lines = [text_of(block.get("text"), color)] if block.get("text") else []
            if block.get("fields"):
                lines.append(_fields([text_of(f, color) for f in block["fields"]]))
            if block.get("accessory"):
                lines.append("  " + self.element(block["accessory"], block_id))
            return "\n".join(line for line in lines if line)
        if kind == "header":
            title = text_of(block.get("text"))
            return f"{_style(title, _BOLD, color)}\n{'═' * max(len(title), 3)}"
        if kind == "divider":
            return DIVIDER
        if kind == "context":
            parts = [
                f"[image: {e.get('alt_text', '')}]" if e.get("type") == "image" else text_of(e, color)
                for e in block.get("elements", [])
            ]
            return _style("  · " + "  ".join(parts), _DIM, color)
        if kind == "actions":
            return "  ".join(self.element(e, block_id) for e in block.get("elements", []))
        if kind == "image":
            title = text_of(block.get("title"))
            return f"[image: {block.get('alt_text', '')}]" + (f" {title}" if title else "")
        if kind == "input":
            label = text_of(block.get("label"))
            return f"{label}: {self.element(block.get('element', {}), block_id)}"
        if kind == "rich_text":
            return _rich_text(block.get("elements", []), color)
        if kind == "video":
            return f"[video: {text_of(block.get('title'))}]"
        if kind == "file":
            return f"[file: {block.get('external_id', '')}]"
        return f"[unsupported block: {kind}]"


def render_message(text: str | None, blocks: list[Json] | None, *, start: int = 1, color: bool = False) -> Rendered:
    """A message as a person would read it; with no blocks, its ``text`` (mrkdwn) is what shows.

    Choices are numbered from ``start`` so a console can keep numbers unique across a transcript.
    """
    if not blocks:
        return Rendered(mrkdwn(text or "", color), [])
    renderer = _Renderer(start, color)
    parts = [renderer.block(b) for b in blocks]
    return Rendered("\n".join(p for p in parts if p), renderer.buttons)


def _options(element: Json) -> list[tuple[str, Json]]:
    """(label, option) for an element's options, option groups flattened."""
    options = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        options.extend(group.get("options") or [])
    return [(text_of(o.get("text")), o) for o in options]


def _fields(texts: list[str]) -> str:
    """Section fields, two per row like Slack shows them; ``*Label*\\nvalue`` → ``Label: value``."""
    cells = []
    for text in texts:
        head, sep, rest = text.partition("\n")
        cells.append(f"{head.rstrip().rstrip(':')}: {rest.strip()}" if sep else text)
    if any("\n" in c for c in cells):
        return "\n".join(cells)
    width = max((len(c) for c in cells[0::2]), default=0)
    rows = []
    for i in range(0, len(cells), 2):
        pair = cells[i : i + 2]
        rows.append(f"{pair[0]:<{width}}   {pair[1]}".rstrip() if len(pair) == 2 else pair[0])
    return "\n".join(rows)


def _rich_text(elements: list[Json], color: bool) -> str:
    """Enough of rich_text to read it: sections, lists, quotes and preformatted text."""
    out: list[str] = []
    for element in elements:
        kind = element.get("type")
        if kind == "rich_text_section":
            out.append(_rich_inline(element.get("elements", []), color))
        elif kind == "rich_text_list":
            ordered = element.get("style") == "ordered"
            indent = "  " * int(element.get("indent", 0))
            for i, item in enumerate(element.get("elements", []), start=1):
                bullet = f"{i}." if ordered else "•"
                out.append(f"{indent}{bullet} {_rich_inline(item.get('elements', []), color)}")
        elif kind == "rich_text_quote":
            out.append("> " + _rich_inline(element.get("elements", []), color).replace("\n", "\n> "))
        elif kind == "rich_text_preformatted":
            out.append("    " + _rich_inline(element.get("elements", []), False).replace("\n", "\n    "))
    return "\n".join(out)


def _rich_inline(elements: list[Json], color: bool) -> str:
    parts = []
    for element in elements:
        kind = element.get("type")
        if kind == "text":
            text = str(element.get("text", ""))
            if (element.get("style") or {}).get("bold"):
                text = _style(text, _BOLD, color)
            parts.append(text)
        elif kind == "link":
            url = str(element.get("url", ""))
            parts.append(f"{element['text']} ({url})" if element.get("text") else url)
        elif kind == "user":
            parts.append(f"@{element.get('user_id', '')}")
        elif kind == "channel":
            parts.append(f"#{element.get('channel_id', '')}")
        elif kind == "usergroup":
            parts.append(f"@{element.get('usergroup_id', '')}")
        elif kind == "broadcast":
            parts.append(f"@{element.get('range', '')}")
        elif kind == "emoji":
            parts.append(f":{element.get('name', '')}:")
        elif kind == "date":
            parts.append(str(element.get("fallback") or _format_date(f"!date^{element.get('timestamp', '')}")))
    return "".join(parts)


# ---------------------------------------------------------------------- modals

_KINDS = {
    "plain_text_input": "plain_text_input",
    "email_text_input": "plain_text_input",
    "url_text_input": "plain_text_input",
    "number_input": "number_input",
    "checkboxes": "checkboxes",
    "radio_buttons": "radio_buttons",
    "static_select": "static_select",
    "multi_static_select": "multi_static_select",
    "datepicker": "datepicker",
    "timepicker": "timepicker",
    "datetimepicker": "datetimepicker",
    "external_select": "external_select",
    "multi_external_select": "multi_external_select",
    "users_select": "users_select",
    "multi_users_select": "multi_users_select",
    "conversations_select": "conversations_select",
    "multi_conversations_select": "multi_conversations_select",
    "channels_select": "channels_select",
    "multi_channels_select": "multi_channels_select",
}

# Id selects: (state key, initial key) — typed as ids, comma-separated for the multi variants.
_ID_SELECTS = {
    "users_select": ("selected_user", "initial_user"),
    "multi_users_select": ("selected_users", "initial_users"),
    "conversations_select": ("selected_conversation", "initial_conversation"),
    "multi_conversations_select": ("selected_conversations", "initial_conversations"),
    "channels_select": ("selected_channel", "initial_channel"),
    "multi_channels_select": ("selected_channels", "initial_channels"),
}

_CHOICE_KINDS = ("checkboxes", "radio_buttons", "static_select", "multi_static_select")
_MULTI_CHOICE = ("checkboxes", "multi_static_select")


def render_modal(view: Json, *, color: bool = False) -> RenderedModal:
    """Describe a modal (or home tab) view: inputs become :class:`Field` s, the rest text."""
    renderer = _Renderer(1, color)
    parts: list[str] = []
    fields: list[Field] = []
    for block in view.get("blocks") or []:
        if block.get("type") == "input":
            fields.append(_field(block))
        else:
            rendered = renderer.block(block)
            if rendered:
                parts.append(rendered)
    return RenderedModal(
        title=text_of(view.get("title")),
        submit=text_of(view.get("submit")) or None,
        close=text_of(view.get("close")) or "Cancel",
        callback_id=str(view.get("callback_id", "")),
        private_metadata=str(view.get("private_metadata", "")),
        text="\n".join(parts),
        fields=fields,
        buttons=renderer.buttons,
    )


def _field(block: Json) -> Field:
    element = block.get("element") or {}
    element_type = str(element.get("type", ""))
    kind = _KINDS.get(element_type, "text")
    options = [(label, str(o.get("value", ""))) for label, o in _options(element)]
    return Field(
        block_id=str(block.get("block_id", "")),
        action_id=str(element.get("action_id", "")),
        label=text_of(block.get("label")),
        kind=kind,
        element_type=element_type,
        hint=text_of(block.get("hint")) or None,
        optional=bool(block.get("optional", False)),
        multiline=bool(element.get("multiline", False)),
        is_decimal_allowed=bool(element.get("is_decimal_allowed", False)),
        min_value=_opt_str(element.get("min_value")),
        max_value=_opt_str(element.get("max_value")),
        min_length=element.get("min_length"),
        max_length=element.get("max_length"),
        placeholder=text_of(element.get("placeholder")) or None,
        initial=_initial_text(element, kind, options),
        options=options,
        element=copy.deepcopy(element),
        dispatch_action=bool(block.get("dispatch_action", False)),
    )


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _initial_text(element: Json, kind: str, options: list[tuple[str, str]]) -> str:
    """The initial value as it would be typed (choices by number, dates as text)."""
    if kind in _CHOICE_KINDS:
        chosen = element.get("initial_options") or (
            [element["initial_option"]] if element.get("initial_option") else []
        )
        values = [str(o.get("value", "")) for o in chosen]
        numbers = [str(i) for i, (_, v) in enumerate(options, start=1) if v in values]
        return ",".join(numbers)
    if kind == "datepicker":
        return str(element.get("initial_date") or "")
    if kind == "timepicker":
        return str(element.get("initial_time") or "")
    if kind == "datetimepicker":
        ts = element.get("initial_date_time")
        return datetime.fromtimestamp(int(ts), UTC).strftime("%Y-%m-%d %H:%M") if ts is not None else ""
    if kind in _ID_SELECTS:
        initial = element.get(_ID_SELECTS[kind][1])
        return ",".join(initial) if isinstance(initial, list) else str(initial or "")
    if kind in ("external_select", "multi_external_select"):
        chosen = element.get("initial_options") or (
            [element["initial_option"]] if element.get("initial_option") else []
        )
        return ",".join(str(o.get("value", "")) for o in chosen)
    if element.get("type") == "rich_text_input":
        return _rich_plain(element.get("initial_value"))
    return str(element.get("initial_value") or "")


def initial_state(f: Field) -> Json:
    """The state entry Slack sends for a field the person left untouched."""
    element = f.element
    if f.kind in _CHOICE_KINDS or f.kind in ("external_select", "multi_external_select"):
        chosen = element.get("initial_options") or (
            [element["initial_option"]] if element.get("initial_option") else []
        )
        if f.kind in _MULTI_CHOICE or f.kind == "multi_external_select":
            return {"type": f.element_type, "selected_options": copy.deepcopy(chosen)}
        return {"type": f.element_type, "selected_option": copy.deepcopy(chosen[0]) if chosen else None}
    if f.element_type == "rich_text_input":
        initial = element.get("initial_value")
        return {"type": f.element_type, "rich_text_value": copy.deepcopy(initial) or _rich_value("")}
    if f.kind == "datetimepicker":
        return {"type": f.element_type, "selected_date_time": element.get("initial_date_time")}
    if f.kind in _ID_SELECTS:
        key, initial_key = _ID_SELECTS[f.kind]
        default: Any = [] if f.kind.startswith("multi_") else None
        return {"type": f.element_type, key: copy.deepcopy(element.get(initial_key, default))}
    if f.kind in ("datepicker", "timepicker"):
        return field_state(f, f.initial)
    # Text and number inputs: Slack echoes the initial value without re-validating it.
    return {"type": f.element_type, "value": element.get("initial_value") or None}


def field_state(f: Field, raw: str, *, enforce_required: bool = False) -> Json:
    """What a person typed → the exact ``view.state.values[block_id][action_id]`` entry.

    Typing rules: choices by number (``1,3``) or by value; a single checkbox also takes ``y``/``n``;
    datepicker ``YYYY-MM-DD``; timepicker ``HH:MM``; datetimepicker ``YYYY-MM-DD HH:MM`` in UTC (or a
    unix time); id selects take ids, comma-separated when multi. Empty input gives Slack's empty
    state. Raises ``ValueError`` with a message for the person when Slack's client would refuse
    the input (bad number, out of range, unknown choice; empty required field if asked to check).
    """
    text = raw.strip()
    kind, etype = f.kind, f.element_type
    if not text and enforce_required and not f.optional:
        raise ValueError(f"{f.label or f.block_id}: please fill out this field")
    if kind in _CHOICE_KINDS:
        chosen = _choose(f, text)
        if kind in _MULTI_CHOICE:
            return {"type": etype, "selected_options": chosen}
        if len(chosen) > 1:
            raise ValueError(f"{f.label}: pick only one")
        return {"type": etype, "selected_option": chosen[0] if chosen else None}
    if kind == "number_input":
        return {"type": etype, "value": _number(f, text) if text else None}
    if kind == "datepicker":
        return {"type": etype, "selected_date": _date(text) if text else None}
    if kind == "timepicker":
        state: Json = {"type": etype, "selected_time": _time(text) if text else None}
        if f.element.get("timezone"):
            state["timezone"] = f.element["timezone"]
        return state
    if kind == "datetimepicker":
        return {"type": etype, "selected_date_time": _date_time(text) if text else None}
    if kind in _ID_SELECTS:
        key = _ID_SELECTS[kind][0]
        ids = _split(text)
        return {"type": etype, key: ids if kind.startswith("multi_") else (ids[0] if ids else None)}
    if kind in ("external_select", "multi_external_select"):
        options = [{"text": {"type": "plain_text", "text": v, "emoji": True}, "value": v} for v in _split(text)]
        if kind == "multi_external_select":
            return {"type": etype, "selected_options": options}
        return {"type": etype, "selected_option": options[0] if options else None}
    if etype == "rich_text_input":
        return {"type": etype, "rich_text_value": _rich_value(raw)}
    if kind == "plain_text_input" and text:
        _check_length(f, raw)
    return {"type": etype, "value": raw if text else None}


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _choose(f: Field, text: str) -> list[Json]:
    """Selected option objects (as defined in the view) from numbers, values, labels, or y/n."""
    all_options = [o for _, o in _options(f.element)]
    if not text:
        return []
    if len(all_options) == 1 and text.lower() in ("y", "yes", "n", "no", "x"):
        return [copy.deepcopy(all_options[0])] if text.lower() in ("y", "yes", "x") else []
    chosen: list[Json] = []
    for token in _split(text):
        option = None
        if token.isdigit() and 1 <= int(token) <= len(all_options):
            option = all_options[int(token) - 1]
        else:
            option = next((o for o in all_options if str(o.get("value")) == token), None)
        if option is None:
            option = next((o for o in all_options if text_of(o.get("text")).lower() == token.lower()), None)
        if option is None:
            raise ValueError(f"{f.label}: no choice {token!r} (pick 1-{len(all_options)})")
        if option not in chosen:
            chosen.append(copy.deepcopy(option))
    return chosen


def _number(f: Field, text: str) -> str:
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{f.label}: {text!r} is not a number") from None
    if not number.is_finite():
        raise ValueError(f"{f.label}: {text!r} is not a number")
    if not f.is_decimal_allowed and number != number.to_integral_value():
        raise ValueError(f"{f.label}: whole numbers only")
    if f.min_value is not None and number < Decimal(f.min_value):
        raise ValueError(f"{f.label}: must be at least {f.min_value}")
    if f.max_value is not None and number > Decimal(f.max_value):
        raise ValueError(f"{f.label}: must be at most {f.max_value}")
    return text


def _check_length(f: Field, raw: str) -> None:
    if f.min_length is not None and len(raw) < f.min_length:
        raise ValueError(f"{f.label}: at least {f.min_length} characters")
    if f.max_length is not None and len(raw) > f.max_length:
        raise ValueError(f"{f.label}: at most {f.max_length} characters")


def _date(text: str) -> str:
    try:
        return datetime.strptime(text, "%Y-%m-%d").strftime("%Y-%m-%d")
    except ValueError:
        raise ValueError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _time(text: str) -> str:
    try:
        return datetime.strptime(text, "%H:%M").strftime("%H:%M")
    except ValueError:
        raise ValueError(f"{text!r} is not a time (HH:MM)") from None


def _date_time(text: str) -> int:
    if text.isdigit():
        return int(text)
    for fmt in ("%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M"):
        try:
            return calendar.timegm(datetime.strptime(text, fmt).timetuple())
        except ValueError:
            continue
    raise ValueError(f"{text!r} is not a date and time (YYYY-MM-DD HH:MM, UTC)")


def _rich_value(text: str) -> Json:
    elements = [{"type": "text", "text": text}] if text else []
    return {"type": "rich_text", "elements": [{"type": "rich_text_section", "elements": elements}]}


def _rich_plain(value: Any) -> str:
    if not isinstance(value, dict):
        return ""
    return _rich_text(value.get("elements", []), False)


def render_errors(errors: dict[str, str], fields: list[Field]) -> str:
    """A ``response_action: errors`` answer shown under each field's label.

    Errors naming a block that is not an input of the modal are listed too, flagged, because Slack
    rejects such an answer and the person would see the modal fail instead.
    """
    by_block = {f.block_id: f for f in fields}
    lines = []
    for f in fields:
        if f.block_id in errors:
            lines.append(f"{f.label or f.block_id}\n  ✖ {errors[f.block_id]}")
    for block_id, message in errors.items():
        if block_id not in by_block:
            lines.append(f"{block_id} (not an input of this modal)\n  ✖ {message}")
    return "\n".join(lines)
