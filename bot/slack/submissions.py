"""Modal submissions (`view.state.values`) → typed values, or per-field errors before anything is sent.

Everything in a submission is user-controlled: every lookup tolerates a missing block or a wrong type.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from typing import Any

from bot.rules import MAX_MEMBERS, id_problem, name_problem, visit_problem
from bot.slack import ids

StateValues = dict[str, Any]


def entry(state: StateValues, block_id: str) -> dict[str, Any]:
    """`state[block_id][action_id]`, tolerating any shape (the state is user-controlled)."""
    block = state.get(block_id) if isinstance(state, dict) else None
    if not isinstance(block, dict):
        return {}
    value = block.get(block_id)
    if not isinstance(value, dict):
        value = next((v for v in block.values() if isinstance(v, dict)), {})
    return value


def text_value(state: StateValues, block_id: str) -> str | None:
    raw = entry(state, block_id).get("value")
    if raw is None:
        return None
    text = str(raw).strip()
    return text or None


def checked(state: StateValues, block_id: str, option: str) -> bool:
    selected = entry(state, block_id).get("selected_options")
    if not isinstance(selected, list):
        return False
    return any(isinstance(o, dict) and o.get("value") == option for o in selected)


def datetime_value(state: StateValues, block_id: str) -> tuple[datetime | None, str | None]:
    raw = entry(state, block_id).get("selected_date_time")
    if raw is None or raw == "":
        return None, None
    try:
        stamp = int(raw)
        return datetime.fromtimestamp(stamp, UTC), None
    except (TypeError, ValueError, OverflowError, OSError):
        return None, "Pick a date and a time."


def parse_user_ids(text: str | None) -> tuple[list[int] | None, str | None]:
    """`12, 13 14` → [12, 13, 14]; anything else names the offending token."""
    if text is None:
        return [], None
    tokens = [t for t in re.split(r"[\s,;]+", text) if t]
    users: list[int] = []
    for token in tokens:
        if not token.isdigit() or not token.isascii():
            return None, f"“{token[:30]}” is not a user id: use numbers separated by commas."
        problem = id_problem(token, "user id")
        if problem:
            return None, f"“{token[:30]}”: {problem}"
        users.append(int(token))
    if len(users) > MAX_MEMBERS:
        return None, f"At most {MAX_MEMBERS} members."
    return list(dict.fromkeys(users)), None


def parse_chatroom_form(
    state: StateValues, *, now: datetime, initial: dict[str, str] | None = None
) -> tuple[dict[str, Any], dict[str, str]]:
    """The chatroom form's values keyed by field name, and errors keyed by block id.

    `initial` (the edit form's field digests) exempts a value the user left as it was: a record that
    already breaks a rule (a visit in the future, set elsewhere) can still be saved for other fields.
    """
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    business_text = text_value(state, ids.F_BUSINESS)
    business_problem = id_problem(business_text, "business ID") if business_text is not None else None
    if business_text is None:
        errors[ids.F_BUSINESS] = "A chatroom belongs to a business: enter its ID."
    elif business_problem:
        errors[ids.F_BUSINESS] = business_problem
    else:
        values[ids.F_BUSINESS] = int(business_text.lstrip("#"))
    name = text_value(state, ids.F_NAME)
    problem = name_problem(name) if name is not None else None
    if name is None:
        errors[ids.F_NAME] = "Give the chatroom a name."
    elif problem and _changed(ids.F_NAME, name, initial):
        errors[ids.F_NAME] = problem
    else:
        values[ids.F_NAME] = name
    values[ids.F_ACTIVE] = checked(state, ids.F_ACTIVE, "active")
    visit, visit_error = datetime_value(state, ids.F_VISIT)
    if visit_error is None and _changed(ids.F_VISIT, visit, initial):
        visit_error = visit_problem(visit, now)
    if visit_error:
        errors[ids.F_VISIT] = visit_error
    values[ids.F_VISIT] = visit
    users, users_error = parse_user_ids(text_value(state, ids.F_USERS))
    if users_error:
        errors[ids.F_USERS] = users_error
    else:
        values[ids.F_USERS] = users
    return values, errors


FORM_FIELDS = (ids.F_BUSINESS, ids.F_NAME, ids.F_ACTIVE, ids.F_VISIT, ids.F_USERS)


def _normal(key: str, value: Any) -> Any:
    """A field's value as the form hands it back: what counts when comparing before and after."""
    if isinstance(value, datetime):
        return int(value.timestamp())
    if key == ids.F_USERS:
        return sorted(set(value or []))
    if key == ids.F_ACTIVE:
        return bool(value)
    if isinstance(value, str):
        return value.strip() or None
    return value


def _changed(key: str, value: Any, initial: dict[str, str] | None) -> bool:
    """Whether a field differs from what the form first showed (always, for a form without `initial`)."""
    return initial is None or _digest(key, value) != initial.get(key)


def field_digests(shown: dict[str, Any]) -> dict[str, str]:
    """A short digest of each field as the form shows it, kept in the modal's metadata."""
    return {key: _digest(key, shown.get(key)) for key in FORM_FIELDS}


def _digest(key: str, value: Any) -> str:
    """One field's digest (the submission's ack compares only the fields it must, one at a time)."""
    return hashlib.sha256(json.dumps(_normal(key, value), default=str).encode()).hexdigest()[:12]


def changed_since(initial: dict[str, str], values: dict[str, Any]) -> dict[str, Any]:
    """Only the fields the user changed in the form: an untouched field is never written back."""
    now = field_digests(values)
    return {key: values[key] for key in FORM_FIELDS if key in values and now[key] != initial.get(key)}


def parse_login(state: StateValues) -> tuple[str, str, dict[str, str]]:
    errors: dict[str, str] = {}
    email = text_value(state, ids.F_EMAIL) or ""
    password = entry(state, ids.F_PASSWORD).get("value")
    password = password if isinstance(password, str) else ""
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email) or len(email) > 254:
        errors[ids.F_EMAIL] = "Enter the e-mail you sign in to Nexudus with."
    if not password:
        errors[ids.F_PASSWORD] = "Enter your Nexudus password."
    return email, password, errors


def parse_login_code(state: StateValues) -> tuple[str | None, dict[str, str]]:
    """The optional 2FA code: 6 to 8 digits (spaces allowed, as apps show `123 456`)."""
    raw = text_value(state, ids.F_CODE)
    if raw is None:
        return None, {}
    code = raw.replace(" ", "")
    if not re.fullmatch(r"[0-9]{6,8}", code):
        return None, {ids.F_CODE: "Enter the 6-digit code your authenticator app shows now, or leave it empty."}
    return code, {}


def state_values(view: Any) -> StateValues:
    """`view.state.values`, or {} when a payload is malformed."""
    if not isinstance(view, dict):
        return {}
    state = view.get("state")
    values = state.get("values") if isinstance(state, dict) else None
    return values if isinstance(values, dict) else {}
