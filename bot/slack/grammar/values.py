"""The small values every subcommand reads: chatroom, business and user ids, yes/no, names, bounded numbers."""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.rules import MAX_ID, MAX_MEMBERS, MAX_NAME
from bot.slack.grammar.intents import MAX_IDS, GrammarError
from bot.slack.grammar.lexer import Token, clean, q

BOOLS = {"true": True, "yes": True, "1": True, "on": True, "false": False, "no": False, "0": False, "off": False}
_ID = re.compile(r"#?([0-9]+)")


def positive_id(value: str) -> int | None:
    """A positive 32-bit id (a leading `#` tolerated), else None."""
    match = _ID.fullmatch(value.strip())
    if match is None or len(match.group(1)) > 12:
        return None
    number = int(match.group(1))
    return number if 1 <= number <= MAX_ID else None


def too_large(value: str) -> bool:
    """Digits that would be an id, were they not past the 32-bit range (so the message says so)."""
    match = _ID.fullmatch(value.strip())
    return match is not None and (len(match.group(1)) > 12 or int(match.group(1)) > MAX_ID)


def id_message(value: str, source: str, what: str, example: str) -> str:
    """Why `value` (typed as `source`) is not a `what` id: too large, or not a positive whole number."""
    if too_large(value):
        return f"{q(source)} is too large for {what} id (at most {MAX_ID})."
    return f"{q(source)} is not {what} id; ids are positive whole numbers, e.g. {example}."


def key_id(value: str, source: str, key: str, example: str, usage: str) -> int:
    """The id in `key:value`, or a GrammarError saying why it is not one (`example` shows one that is)."""
    number = positive_id(value)
    if number is not None:
        return number
    if too_large(value):
        raise GrammarError(f"{q(source)}: {key} is too large for an id (at most {MAX_ID}).", usage)
    raise GrammarError(f"{q(source)}: {key} must be a positive whole number, e.g. {example}.", usage)


def parse_ids(tokens: Sequence[Token], usage: str, *, at_least: int) -> list[int]:
    """Ids separated by spaces and/or commas, de-duplicated in order, 1..MAX_ID each, ≤ MAX_IDS."""
    ids: dict[int, None] = {}
    for token in tokens:
        for piece in clean(token.text).split(","):
            if not piece.strip():
                continue
            number = positive_id(piece)
            if number is None:
                raise GrammarError(id_message(piece, piece, "a chatroom", "1000001"), usage)
            ids[number] = None
    if len(ids) > MAX_IDS:
        raise GrammarError(f"That is {len(ids)} ids; give at most {MAX_IDS} at once.", usage)
    if len(ids) < at_least:
        raise GrammarError("Give at least one chatroom id, e.g. 1000001.", usage)
    return list(ids)


def user_ids(value: str, usage: str) -> list[int]:
    """`7000237,7000261` → member user ids (de-duplicated, ≤ MAX_MEMBERS); `none`/`nobody` → []."""
    if value.lower() in ("none", "nobody"):
        return []
    users: dict[int, None] = {}
    for piece in value.split(","):
        if not piece.strip():
            continue
        number = positive_id(piece)
        if number is None:
            if too_large(piece):
                raise GrammarError(f"{q(piece)} is too large for a user id (at most {MAX_ID}).", usage)
            raise GrammarError(f"{q(piece)} is not a user id; use numbers separated by commas.", usage)
        users[number] = None
    if len(users) > MAX_MEMBERS:
        raise GrammarError(f"That is {len(users)} members; set at most {MAX_MEMBERS} at once.", usage)
    return list(users)


def flag(value: str, source: str, key: str, usage: str) -> bool:
    """true/false, yes/no, on/off, 1/0."""
    found = BOOLS.get(value.lower())
    if found is None:
        raise GrammarError(f"{q(source)}: {key} must be true or false (yes/no, on/off, 1/0).", usage)
    return found


def check_name(value: str, source: str, usage: str) -> str:
    if len(value) > MAX_NAME:
        raise GrammarError(f"{q(source)}: the name is too long (at most {MAX_NAME} characters).", usage)
    return value


def name_from_words(words: Sequence[str], named: str | None, usage: str) -> str | None:
    """Bare words as the name (None without words); refused when a `name:` was typed too (`named`: its token)."""
    if not words:
        return None
    if named is not None:
        raise GrammarError(f"Give the name once: either as words ({q(' '.join(words))}) or as {q(named)}.", usage)
    return check_name(" ".join(words), " ".join(words), usage)


def bounded(value: str, source: str, label: str, low: int, high: int, usage: str) -> int:
    if re.fullmatch(r"[0-9]{1,9}", value) and low <= int(value) <= high:
        return int(value)
    raise GrammarError(f"{q(source)}: {label} must be a whole number from {low} to {high}.", usage)
