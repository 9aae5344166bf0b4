"""Logging set-up with a filter that scrubs secrets, whatever a library decides to log at DEBUG."""

from __future__ import annotations

import logging
import re

# A Basic/Bearer credential, a Slack token, or a password field in a modal's state (JSON or form-encoded).
_PATTERNS = [
    re.compile(r"(Authorization['\"]?\s*[:=]\s*['\"]?(?:Basic|Bearer)\s+)[A-Za-z0-9+/=._-]+", re.IGNORECASE),
    re.compile(r"\bxox[abposr]-[A-Za-z0-9-]+"),
    re.compile(r"\bxapp-[A-Za-z0-9-]+"),
    re.compile(r"(\"password\"\s*:\s*\{[^{}]*?\"value\"\s*:\s*\")((?:[^\"\\]|\\.)*)(\")"),
    re.compile(r"(%22password%22%3A%7B.*?%22value%22%3A%22)(.*?)(%22)"),
]


def scrub(text: str) -> str:
    for pattern in _PATTERNS:
        if pattern.groups == 3:
            text = pattern.sub(lambda m: m.group(1) + "***" + m.group(3), text)
        elif pattern.groups == 1:
            text = pattern.sub(lambda m: m.group(1) + "***", text)
        else:
            text = pattern.sub("***", text)
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


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
