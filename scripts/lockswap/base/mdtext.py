"""Text from a results file, made inert before it is formatted into Markdown (report.md, summary.md,
the CI job summary).

Variant names, labels, machine and CPU names, OS, errors, file names, suite names and test ids come
from JSON that any CI job (or anyone handing over a file) wrote. ``escape`` turns such a string into
Markdown that renders as exactly that text: no emphasis, link, image, autolink, heading, table cell
break, code span, math, HTML tag or entity, and no line break. lockswap's own formatting around it is
left alone: escape the value, never the line.
"""

from __future__ import annotations

import re

# ASCII punctuation GitHub's Markdown gives a meaning to inline (CommonMark lets any ASCII punctuation
# be backslash-escaped): emphasis * _ ~, code `, links and images [ ] (no link without its brackets),
# tables |, math $ and the escape character itself; at the start, a heading # or a list item - +.
_MARKDOWN = re.compile(r"([\\`*_~\[\]|$])")
_LEADING = re.compile(r"^(\s*)([#+-])")
_HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")  # newlines, tabs, other control characters
_AUTOLINK = re.compile(r"(?i)(?<=www)\.|:(?=//)")  # GitHub autolinks www.x and scheme://x


def escape(text: object) -> str:
    """``text`` as Markdown/HTML-inert text on one line (``str()`` of anything else first)."""
    s = _CONTROL.sub(" ", str(text))
    s = "".join(_HTML.get(c, c) for c in s)
    s = _LEADING.sub(r"\1\\\2", _MARKDOWN.sub(r"\\\1", s))
    return _AUTOLINK.sub(lambda m: "\\" + m.group(0), s)
