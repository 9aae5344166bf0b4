"""Logging set-up with a filter that scrubs secrets, whatever a library decides to log at DEBUG.

The scrubber understands the shapes a secret arrives in — Slack's form-encoded ``payload=`` JSON, plain
JSON, an ``Authorization`` header, a Slack token — and redacts by structure: a parsed payload has every
secret-named key's whole value replaced, whatever characters the value holds. Where a secret-named key is
seen but the text around it cannot be parsed (a truncated or doubly-escaped body), everything from that key
to the end of the message is cut: a log line may lose detail, never keep a password.

Lines are plain text, or one JSON object a line with `LOG_FORMAT=json` (for log collectors). Either way the
message *and* any traceback are scrubbed: an exception's text can quote a header or a form state too.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, unquote_plus

REDACTED = "[redacted]"

# Keys whose whole value is a secret: the login modal's password block and input, signing secrets, tokens.
_SECRET_KEY = re.compile(r"password|passwd|secret|^token$|_token$|^authorization$", re.IGNORECASE)

# A secret-named key in any quoting Slack or a logger uses: bare, "…", '…', \"…\", %22…%22, then : or =.
_QUOTE = r"(?:\\*[\"']|%5C|%22|%27)*"
_SEP = r"(?:\s|\+|%20)*(?::|%3A|=|%3D)"
_KEY_IN_TEXT = re.compile(r"(?:password|passwd|secret)[A-Za-z0-9_-]*" + _QUOTE + _SEP, re.IGNORECASE)

# Form-encoded JSON as Slack sends interactive payloads (and as Bolt logs a refused body).
_FORM_PAYLOAD = re.compile(r"(payload=)([^\s&]+)")

_PATTERNS = [
    re.compile(r"(Authorization['\"]?\s*[:=]\s*['\"]?(?:Basic|Bearer)\s+)[A-Za-z0-9+/=._-]+", re.IGNORECASE),
    re.compile(r"\bxox[abposr]-[A-Za-z0-9-]+"),
    re.compile(r"\bxapp-[A-Za-z0-9-]+"),
]

_MAX_JSON_ATTEMPTS = 200
_decoder = json.JSONDecoder()

Segment = tuple[str, bool]
"""A piece of the message, and whether it is already clean (produced by a structural redaction)."""


def redact(value: Any) -> Any:
    """A copy of a parsed payload with the whole value of every secret-named key replaced."""
    if isinstance(value, dict):
        return {k: (REDACTED if isinstance(k, str) and _SECRET_KEY.search(k) else redact(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    if isinstance(value, str) and _mentions_secret(value):
        return _redact_structures(value)  # a payload carried inside a string (JSON in JSON, a form body)
    return value


def _mentions_secret(text: str) -> bool:
    lowered = text.lower()
    return any(word in lowered for word in ("password", "passwd", "secret"))


def _form_payloads(text: str) -> list[Segment]:
    """Decode each ``payload=…`` field, redact the JSON it holds, and encode it again."""
    out: list[Segment] = []
    pos = 0
    for match in _FORM_PAYLOAD.finditer(text):
        decoded = unquote_plus(match.group(2))
        try:
            parsed, end = _decoder.raw_decode(decoded)
        except ValueError:
            if not _mentions_secret(decoded):
                continue
            clean = match.group(1) + REDACTED
        else:
            rest = decoded[end:]
            clean = match.group(1) + quote(json.dumps(redact(parsed)))
            clean += REDACTED if _mentions_secret(rest) else rest
        out += [(text[pos : match.start()], False), (clean, True)]
        pos = match.end()
    out.append((text[pos:], False))
    return out


def _json_objects(text: str) -> list[Segment]:
    """Redact each JSON object embedded in the text (parsed from its first brace)."""
    out: list[Segment] = []
    pos = 0
    for attempts, brace in enumerate(re.finditer(r"\{", text)):
        start = brace.start()
        if start < pos:
            continue
        if attempts > _MAX_JSON_ATTEMPTS:
            break
        try:
            parsed, end = _decoder.raw_decode(text, start)
        except ValueError:
            continue
        out += [(text[pos:start], False), (json.dumps(redact(parsed), ensure_ascii=False), True)]
        pos = end
    out.append((text[pos:], False))
    return out


def _redact_structures(text: str) -> str:
    segments: list[Segment] = [(text, False)]
    for split in (_form_payloads, _json_objects):
        segments = [piece for seg, clean in segments for piece in ([(seg, True)] if clean else split(seg))]
    # Whatever structure did not catch: cut from the first secret-named key left in unparsed text.
    out: list[str] = []
    for seg, clean in segments:
        match = None if clean else _KEY_IN_TEXT.search(seg)
        if match is not None:
            out.append(seg[: match.end()] + REDACTED + " (rest of the message withheld)")
            break
        out.append(seg)
    return "".join(out)


def scrub(text: str) -> str:
    if _mentions_secret(text):
        text = _redact_structures(text)
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + "***" if m.re.groups else "***", text)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites each record's message with secrets replaced by ***."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            return True
        cleaned = scrub(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class _NoUnverifiedBodies(logging.Filter):
    """Bolt logs a request that fails the signature check with its whole body (at INFO): keep only the fact."""

    def filter(self, record: logging.LogRecord) -> bool:
        if str(record.msg).startswith("Invalid request signature detected"):
            record.msg, record.args = "Invalid request signature detected: refused (its body is not logged)", None
        return True


def quiet_unverified_bodies() -> None:
    """Install the filter on Bolt's request-verification logger (idempotent)."""
    logger = logging.getLogger("slack_bolt.RequestVerification")
    if not any(isinstance(f, _NoUnverifiedBodies) for f in logger.filters):
        logger.addFilter(_NoUnverifiedBodies())


class ScrubbingFormatter(logging.Formatter):
    """The plain text format, with tracebacks scrubbed as well as messages."""

    def formatException(self, ei: Any) -> str:
        return scrub(super().formatException(ei))


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, message, process, thread, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": scrub(record.getMessage()),
            "process": record.process,
            "thread": record.threadName,
        }
        if record.exc_info:
            entry["exception"] = scrub(self.formatException(record.exc_info))
        if record.stack_info:
            entry["stack"] = scrub(self.formatStack(record.stack_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


BOLT_LOGGER = "bot.bolt"  # the logger the Bolt app is given


def configure_logging(level: str = "INFO", log_format: str = "text") -> None:
    handler = logging.StreamHandler()
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(ScrubbingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Bolt formats a debug message per middleware per request unless its logger's own level (not the effective
    # one) is above DEBUG: set, at LOG_LEVEL, it skips that work on every ack (bot/slack/app.py's "bot.bolt").
    logging.getLogger(BOLT_LOGGER).setLevel(level)
    quiet_unverified_bodies()
