"""Reading a JSON file that someone else wrote (a CI job's artifact, a results file handed over).

``json.loads`` recurses once per nesting level and holds the whole file in memory, so a small file of
100 000 nested ``[`` ends in a RecursionError, and a huge one in swapping. ``read`` refuses a file over
``MAX_BYTES`` before reading it and one nested deeper than ``MAX_DEPTH`` before parsing it (a linear
scan of its brackets outside strings), each as one ``BadJson`` (a ``ConfigError``) naming the file;
lockswap's own files nest a few levels.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from .errors import ConfigError

MAX_BYTES = 64 * 1024 * 1024
MAX_DEPTH = 64
_SPECIAL = re.compile(r'[\[\]{}"\\]')
_HINT = "it is not a file lockswap wrote: leave it out (or regenerate it)"


def depth(text: str, limit: int = MAX_DEPTH) -> int:
    """The nesting depth of JSON ``text``, counting up to ``limit + 1`` (then it stops scanning)."""
    level = deepest = 0
    in_string, skip = False, -1
    for m in _SPECIAL.finditer(text):
        i = m.start()
        if i == skip:
            continue
        c = text[i]
        if in_string:
            if c == "\\":
                skip = i + 1
            elif c == '"':
                in_string = False
        elif c == '"':
            in_string = True
        elif c in "[{":
            level += 1
            if level > deepest:
                deepest = level
                if deepest > limit:
                    break
        elif c in "]}":
            level -= 1
    return deepest


class BadJson(ConfigError):
    """A file that cannot be read as JSON; ``reason`` says why without naming the file."""

    def __init__(self, where: str, reason: str, hint: str = _HINT) -> None:
        super().__init__(f"{where}: {reason}", hint)
        self.reason = reason


def loads(text: str, where: str, *, max_depth: int = MAX_DEPTH) -> Any:
    """Parse ``text`` (from ``where``); ``BadJson`` if it is nested too deep or is not JSON."""
    if depth(text, max_depth) > max_depth:
        raise BadJson(where, f"nested deeper than {max_depth} levels")
    try:
        return json.loads(text)
    except RecursionError:  # not reached after the scan; kept so no input can end in a traceback
        raise BadJson(where, "nested too deep to parse") from None
    except ValueError as exc:
        raise BadJson(where, f"not valid JSON ({exc})") from None


def read(path: Path, *, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH) -> Any:
    """The JSON document in ``path``; ``BadJson`` naming it when it is too large, too deep, not UTF-8,
    not JSON or cannot be read."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise BadJson(str(path), f"{size} bytes, over the {max_bytes} bytes a results file may have")
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BadJson(str(path), f"cannot read it ({exc.strerror or type(exc).__name__})", "check the path"
                      ) from None
    except UnicodeDecodeError as exc:
        raise BadJson(str(path), f"not valid JSON (not UTF-8: {exc.reason})") from None
    return loads(text, str(path), max_depth=max_depth)
