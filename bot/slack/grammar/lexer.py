"""Command text → tokens, and the few helpers every message needs (Slack escaping, quoting a token).

Slack sends `&`, `<`, `>` escaped and mentions as `<#C…|name>`; a token keeps them escaped in `text` and
`clean()` turns a value back into what the user meant.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from bot.slack.grammar.intents import COMMAND, GrammarError

QUOTE_LIMIT = 40
# Quote characters: ASCII and the smart quotes Slack clients like to substitute.
QUOTES = frozenset('"\u201c\u201d\u201e\u201f')


@dataclass(frozen=True)
class Token:
    """One word: `text` has quotes removed (Slack entities still escaped); `source` is as typed."""

    text: str
    source: str
    quote_at: int  # index in `text` where quoted content starts; len(text) when nothing was quoted

    def split(self) -> tuple[str | None, str]:
        """`(key, value)` for key:value tokens whose colon was not quoted; `(None, text)` otherwise."""
        colon = self.text.find(":")
        if 0 < colon < self.quote_at and _KEY.fullmatch(self.text[:colon]):
            return self.text[:colon].lower(), self.text[colon + 1 :]
        return None, self.text


_KEY = re.compile(r"[A-Za-z][A-Za-z_-]{0,39}")
_STRIP_CHARS = re.compile(r"[\x00-\x08\x0e-\x1b\x7f\u200b\u2060\ufeff]")
_WRAPPERS = ("```", "`", "*", "_", "~")


def preprocess(text: str) -> str:
    """Drop invisible characters and Slack formatting wrapped around the whole text."""
    text = _STRIP_CHARS.sub("", text).strip()
    for _ in range(4):
        for mark in _WRAPPERS:
            if len(text) >= 2 * len(mark) and text.startswith(mark) and text.endswith(mark):
                text = text[len(mark) : -len(mark)].strip()
                break
        else:
            break
    first, _, rest = text.partition(" ")
    if first.lower() == COMMAND:
        text = rest.strip()
    return text


def tokenize(text: str, usage: str) -> list[Token]:
    """Split on whitespace outside quotes and outside Slack's `<…>` mentions, in linear time."""
    words = text.split()
    if all(QUOTES.isdisjoint(word) and "<" not in word for word in words):
        # Most commands (`list`, `show 12`, `list active:true`): the words are the tokens, split in C.
        return [Token(word, word, len(word)) for word in words]
    return _scan(text, usage)


def _scan(text: str, usage: str) -> list[Token]:
    """`tokenize`, a character at a time: quotes and mentions may hold spaces."""
    tokens: list[Token] = []
    n = len(text)
    i = 0
    next_gt = -2  # cached position of the next '>' at or after i; -1 when there is none
    while i < n:
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            break
        start = i
        buf: list[str] = []
        quote_at = -1
        while i < n and not text[i].isspace():
            ch = text[i]
            if ch in QUOTES:
                if quote_at < 0:
                    quote_at = len(buf)
                i = _read_quoted(text, i + 1, buf, start, usage)
            elif ch == "<":
                if next_gt != -1 and next_gt <= i:
                    next_gt = text.find(">", i + 1)
                end = i + 1 if next_gt == -1 else next_gt + 1
                buf.append(text[i:end])
                i = end
            else:
                buf.append(ch)
                i += 1
        joined = "".join(buf)
        if not joined and quote_at >= 0:
            continue  # a lone "" says nothing
        tokens.append(Token(joined, text[start:i], quote_at if quote_at >= 0 else len(joined)))
    return tokens


def _read_quoted(text: str, i: int, buf: list[str], start: int, usage: str) -> int:
    """Append the quoted content from `i` (just past the opening quote) to `buf`; the index past the close."""
    n = len(text)
    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n and (text[i + 1] in QUOTES or text[i + 1] == "\\"):
            buf.append(text[i + 1])
            i += 2
        elif c in QUOTES:
            return i + 1
        else:
            buf.append(c)
            i += 1
    raise GrammarError(f"Unbalanced quote: {q(text[start:])} has no closing quote.", usage)


_ENTITY = re.compile(r"&(amp|lt|gt);")
_ENTITIES = {"amp": "&", "lt": "<", "gt": ">"}
_LINK = re.compile(r"<([^<>]*)>")


def unescape(text: str) -> str:
    """Slack's `&amp; &lt; &gt;` back to characters, in one pass (so `&amp;lt;` → `&lt;`)."""
    return _ENTITY.sub(lambda m: _ENTITIES[m.group(1)], text)


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clean(value: str) -> str:
    """A value as the user meant it: Slack links `<url|label>` → label, entities unescaped."""

    def label(match: re.Match[str]) -> str:
        inner = match.group(1)
        target, _, text = inner.partition("|")
        return text or target.lstrip("#@!")

    if "<" in value:
        value = _LINK.sub(label, value)
    return unescape(value)


def q(text: str) -> str:
    """A token quoted for a message: one line, ≤ ~40 chars, safe mrkdwn (mentions can't ping)."""
    shown = " ".join(unescape(text).split()).replace("`", "'")
    if len(shown) > QUOTE_LIMIT:
        shown = shown[: QUOTE_LIMIT - 1] + "…"
    return f"`{escape(shown) or ' '}`"


def did_you_mean(word: str, choices: Sequence[str]) -> str:
    matches = difflib.get_close_matches(word.lower()[:QUOTE_LIMIT], choices, n=1, cutoff=0.6)
    return f" Did you mean `{matches[0]}`?" if matches else ""


class KeyRow(Protocol):
    """A row of a table of `key:value` keys: its canonical key, and an example shown when it lacks a value."""

    @property
    def key(self) -> str: ...

    @property
    def example(self) -> str: ...


R = TypeVar("R", bound=KeyRow)


@dataclass(frozen=True)
class Keys(Generic[R]):
    """The `key:value` pairs a subcommand takes, and how a mistake in one is worded."""

    rows: Mapping[str, R]  # every name that may be typed (aliases too) → its row
    what: str  # what an unknown key is not: "a filter key"
    known: str  # the keys to list after an unknown one
    twice: str = "`{key}` given twice ({first} and {second})."
    needs_value: bool = True

    def take(self, key: str, raw: str, source: str, seen: dict[str, str], usage: str) -> tuple[R, str]:
        """The row of `key` and its clean value; an unknown key, a key given twice (`seen`: row key →
        the token that gave it) or an empty value is a GrammarError."""
        row = self.rows.get(key) or self.rows.get(key.replace("_", "-"))
        if row is None:
            raise GrammarError(
                f"{q(key)} is not {self.what}.{did_you_mean(key, list(self.rows))} Known keys: {self.known}.", usage
            )
        if row.key in seen:
            raise GrammarError(self.twice.format(key=row.key, first=q(seen[row.key]), second=q(source)), usage)
        seen[row.key] = source
        value = clean(raw).strip()
        if self.needs_value and not value:
            raise GrammarError(f"{q(source)} needs a value, e.g. {row.example}.", usage)
        return row, value
