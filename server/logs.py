"""The process's log: one line per record, whatever text a client sent.

A value typed by a user (an account name, a path, an exception's message) can
hold line breaks or terminal escapes. Written as is, it would start a second,
forged log line or recolour an operator's terminal. `OneLineFormatter`
escapes every control character in a record's message; a traceback, written
by the server itself, keeps its lines.
"""

from __future__ import annotations

import logging

FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"

# C0 and C1 controls (tab kept), DEL, the Unicode line and paragraph
# separators, and the bidirectional overrides that reorder what is shown.
_UNSAFE = [
    *(c for c in range(0x20) if c != 0x09),
    *range(0x7F, 0xA0),
    0x2028,
    0x2029,
    *range(0x202A, 0x202F),
    *range(0x2066, 0x206A),
]
_ESCAPES = {c: f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}" for c in _UNSAFE}
_ESCAPES.update({0x0A: "\\n", 0x0D: "\\r"})


def one_line(text: str) -> str:
    """``text`` with every control character written as an escape."""
    return text.translate(_ESCAPES)


class OneLineFormatter(logging.Formatter):
    """A formatter whose message part never spans more than one line."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = one_line(record.message)
        return super().formatMessage(record)


def configure(level: str) -> None:
    """Log to stderr at ``level`` through `OneLineFormatter`."""
    handler = logging.StreamHandler()
    handler.setFormatter(OneLineFormatter(FORMAT))
    logging.basicConfig(level=level, handlers=[handler])
    # PyMongo's own debug chatter is not for operators.
    logging.getLogger("pymongo").setLevel(logging.WARNING)
