"""Parse ThreadSanitizer reports and deduplicate them by stack signature.

TSan (gcc's libtsan and clang's compiler-rt alike) writes each report between two lines of ``=``::

    ==================
    WARNING: ThreadSanitizer: data race (pid=23080)
      Read of size 4 at 0x5633f41ed05c by thread T2:
        #0 bump /tmp/racy.c:4 (racy+0x11d7)
        #1 worker /tmp/racy.c:5 (racy+0x11d7)

      Previous write of size 4 at 0x5633f41ed05c by thread T1:
        #0 bump /tmp/racy.c:4 (racy+0x11e8)
      ...
      Thread T2 (tid=23083, running) created by main thread at:
        #0 pthread_create ...
    SUMMARY: ThreadSanitizer: data race /tmp/racy.c:4 in bump
    ==================

The *signature* of a report is its kind plus the top :data:`TOP` function names (no addresses, files
or lines) of each access stack (the sections other than "Thread ... created", "Location is ..." and
"Mutex ... created"), the stacks sorted, so the same race seen from either side, in any process or
at any address, is one entry. A file with text this module does not understand (a crash of TSan
itself, a truncated report) is not silently taken as clean: it is listed in :attr:`Parsed.unparsed`.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

TOP = 3  # frames per access stack in a signature
EXCERPT = 6000  # characters of a report's text kept in the results JSON

_DELIM = re.compile(r"^={10,}\s*$")
_HEADER = re.compile(r"^WARNING: ThreadSanitizer: (?P<kind>.+?)(?: \(pid=\d+\))?\s*$")
_FRAME = re.compile(r"^\s+#(?P<n>\d+) (?P<rest>.*)$")
_MODULE = re.compile(r"\s+\((?P<module>[^()]*?)(?:\+0x[0-9a-fA-F]+)?\)$")
_LOCATION = re.compile(r"\s+(?:<null>|\S+:\d+(?::\d+)?|\S+\.(?:c|h|cc|cpp|hpp|cxx|inc)(?::\d+)?)$")
_OFFSET = re.compile(r"\+0x[0-9a-fA-F]+$")
_SECTION = re.compile(r"^  (?P<title>\S.*?):?\s*$")
_CONTEXT = re.compile(r"^(Thread T\d+|Main thread|Location is|Mutex M\d+ (?:\(.*\) )?created|Mutex M\d+ "
                      r"\(0x[0-9a-f]+\) created|Cycle in lock order graph|Hint:|And \d+ more)")
_BENIGN = re.compile(r"^(ThreadSanitizer: reported \d+ warnings?|ThreadSanitizer: thread T\d+ .*"
                     r"finished with ignores enabled.*|\s*)$")
_NUMPY = re.compile(r"numpy/|\(_multiarray_umath\.|\(_umath_linalg\.")  # in a frame's location/module
_NOT_RESTORED = "[failed to restore the stack]"


@dataclass(frozen=True)
class Report:
    kind: str  # "data race", "heap-use-after-free", "lock-order-inversion (potential deadlock)", ...
    stacks: tuple[tuple[str, ...], ...]  # top function names of each access stack, sorted
    summary: str  # TSan's SUMMARY line, without "SUMMARY: ThreadSanitizer: "
    text: str  # the whole report
    in_numpy: bool = False  # a frame of an access stack is NumPy's code (source path or module)

    @property
    def signature(self) -> str:
        sides = " | ".join(" < ".join(s) if s else "<no stack>" for s in self.stacks)
        return f"{self.kind}: {sides}"

    @property
    def id(self) -> str:
        return hashlib.sha256(self.signature.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Unparsed:
    file: str
    why: str
    excerpt: str


@dataclass
class Race:
    """One deduplicated report: how often and where it was seen."""

    id: str
    kind: str
    signature: str
    stacks: list[list[str]]
    summary: str
    in_numpy: bool = False
    count: int = 0
    files: list[str] = field(default_factory=list)
    example: str = ""

    def to_json(self) -> dict[str, object]:
        return dict(self.__dict__)


@dataclass
class Parsed:
    races: dict[str, Race] = field(default_factory=dict)  # by id
    unparsed: list[Unparsed] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    reports: int = 0

    def add(self, report: Report, file: str) -> None:
        race = self.races.get(report.id)
        if race is None:
            race = self.races[report.id] = Race(
                report.id, report.kind, report.signature, [list(s) for s in report.stacks],
                report.summary, report.in_numpy, example=report.text[:EXCERPT],
            )
        race.count += 1
        if file not in race.files and len(race.files) < 5:
            race.files.append(file)
        self.reports += 1


def function_name(frame_rest: str) -> str:
    """``bump /tmp/racy.c:4 (racy+0x11d7)`` -> ``bump``; ``<null> <null> (libx.so+0x1)`` -> ``<libx.so>``."""
    rest = frame_rest.strip()
    module = ""
    m = _MODULE.search(rest)
    if m:
        module = m.group("module").rsplit("/", 1)[-1]
        rest = rest[: m.start()]
    rest = _LOCATION.sub("", rest).strip()
    rest = _OFFSET.sub("", rest).strip()
    if not rest or rest == "<null>":
        return f"<{module or 'unknown'}>"
    return rest


def parse_report(text: str) -> Report:
    """One report (the lines between two ``====`` lines); ValueError if it is not one."""
    lines = text.strip("\n").splitlines()
    head = _HEADER.match(lines[0]) if lines else None
    if not head:
        raise ValueError(f"no 'WARNING: ThreadSanitizer:' header: {lines[:1]}")
    summary = next((ln.split("ThreadSanitizer: ", 1)[-1] for ln in lines
                    if ln.startswith("SUMMARY: ThreadSanitizer:")), None)
    if summary is None:
        raise ValueError("no SUMMARY line (truncated report?)")
    sections: list[tuple[str, list[str]]] = []
    numpy_frames: set[int] = set()  # indexes into sections
    for ln in lines[1:]:
        frame = _FRAME.match(ln)
        if frame and not sections:  # a one-stack report ("signal handler spoils errno"): no title line
            sections.append(("stack", []))
        if frame:
            sections[-1][1].append(function_name(frame.group("rest")))
            if _NUMPY.search(frame.group("rest")):
                numpy_frames.add(len(sections) - 1)
        elif ln.strip() == _NOT_RESTORED and sections:
            sections[-1][1].append("<stack not restored>")
        elif (sec := _SECTION.match(ln)) and not ln.startswith("    "):
            sections.append((sec.group("title"), []))
    chosen = [i for i, (title, frames) in enumerate(sections) if not _CONTEXT.match(title) and frames]
    if not chosen:  # e.g. thread leak: only "Thread ... created at" stacks
        chosen = [i for i, (_, frames) in enumerate(sections) if frames]
    access = [sections[i][1] for i in chosen]
    if not access:
        raise ValueError("a report without any stack frame")
    stacks = tuple(sorted(tuple(f[:TOP]) for f in access))
    return Report(head.group("kind").strip(), stacks, summary.strip(), "\n".join(lines),
                  any(i in numpy_frames for i in chosen))


def parse_text(text: str, file: str, into: Parsed | None = None) -> Parsed:
    """Every report of one TSan log; anything else that is not benign goes to ``unparsed``."""
    out = into if into is not None else Parsed()
    out.files.append(file)
    block: list[str] | None = None
    stray: list[str] = []
    for ln in text.splitlines():
        if _DELIM.match(ln):
            if block is None:
                block = []
                continue
            try:
                out.add(parse_report("\n".join(block)), file)
            except ValueError as exc:
                out.unparsed.append(Unparsed(file, str(exc), "\n".join(block)[:2000]))
            block = None
        elif block is not None:
            block.append(ln)
        elif not _BENIGN.match(ln):
            stray.append(ln)
    if block is not None:
        out.unparsed.append(Unparsed(file, "a report that never ends (truncated log: the process "
                                           "was killed?)", "\n".join(block)[:2000]))
    if stray:
        out.unparsed.append(Unparsed(file, "text outside any report (a TSan error or crash?)",
                                     "\n".join(stray[:40])[:2000]))
    return out


def parse_files(files: list[Path]) -> Parsed:
    out = Parsed()
    for f in sorted(files):
        parse_text(f.read_text(encoding="utf-8", errors="replace"), str(f), out)
    return out


def new_races(races: dict[str, dict[str, object]], baseline: dict[str, dict[str, object]]) -> list[str]:
    """Signatures of races (JSON form, keyed by id) that baseline's run did not report."""
    return sorted(str(r["signature"]) for rid, r in races.items() if rid not in baseline)
