"""What a valid chatroom value is, written once for every way a user can type one.

The slash command grammar (`edit ID name:"…"`, `create name:"…"`, list filters), the create/edit
form (and the console, which reads the form's limits) all check names, ids and last agent visits
here, so a value accepted in one place is never refused, or worded differently, in another.
Each check returns a message for the user, or None when the value is fine.
"""

from __future__ import annotations

from datetime import datetime, timedelta

MAX_ID = 2**31 - 1  # Nexudus ids (chatrooms, businesses, users) are 32-bit ints
MAX_NAME = 200  # characters in a chatroom name
MAX_MEMBERS = 500  # member user ids set at once
VISIT_CLOCK_SKEW = timedelta(minutes=5)  # a visit "now" on a clock a little ahead is still now


def id_problem(text: str, what: str = "id") -> str | None:
    """Why `text` is not an id (`what` names it: "business ID", "chatroom id"…), or None."""
    digits = text.strip().lstrip("#")
    if not digits.isdigit() or not digits.isascii():
        return f"{what[:1].upper()}{what[1:]}s are positive whole numbers, like 12."
    number = int(digits)
    if number < 1:
        return f"{what[:1].upper()}{what[1:]}s start at 1."
    if number > MAX_ID:
        return f"That number is too large for a {what} (at most {MAX_ID})."
    return None


def name_problem(name: str) -> str | None:
    if len(name) > MAX_NAME:
        return f"The name is too long: {len(name)} characters, at most {MAX_NAME}."
    return None


def visit_problem(when: datetime | None, now: datetime) -> str | None:
    """A last agent visit cannot be in the future: that chatroom would never be reported as waiting."""
    if when is not None and when > now + VISIT_CLOCK_SKEW:
        return "A last agent visit cannot be in the future (the chatroom would never be reported as waiting)."
    return None
