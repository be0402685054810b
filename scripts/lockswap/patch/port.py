"""Port a variant's patch to a NumPy tree it has no patch for: a three-way merge with git.

The *base* is the nearest NumPy version the variant has a patch for (:func:`choose_base`). The
merge runs in a private git repository holding only the files that patch touches: the base's
pristine files (the merge base), the base patch applied to them (one side) and the target tree's
files (the other side); ``git merge`` (no fuzz) either merges cleanly or reports conflicts. The
ported patch is the diff from the target's files to the merged ones, with the base patch's DEP-3
header plus ``Ported-From``; it is cached under ``ports/`` by content (target source, base patch,
base version) and applied strictly like any other patch afterwards.

A file the base patch changes that the target does not have at the same path (NumPy 2.2 renamed the
dispatch sources to C++, 2.5 moved ``npy_hashtable`` back to C) is refused before any merge. A
conflict leaves the conflicted repository under ``ports/conflicts/`` and raises one
:class:`PortConflict` naming each file and hunk and the command that makes a patch of it once resolved.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from packaging.version import InvalidVersion, Version

from ..base import paths, proc
from ..base.errors import ConfigError, PatchError
from ..base.manifest import Manifest
from ..source.fetch import Source
from .apply import patch_bytes, patch_sha256

RECIPE = 1  # part of every port's cache key: bump when the ported patch's bytes would change
_MOVED_SUFFIXES = (".c", ".cpp", ".cc", ".cxx")
MOVES_NOTE = ("NumPy 2.2 renamed dispatching.c and npy_hashtable.c to .cpp, and 2.5 moved "
              "npy_hashtable back to C")
_GIT_CONFIG = ("-c", "user.name=lockswap", "-c", "user.email=lockswap@localhost", "-c", "core.autocrlf=false",
               "-c", "merge.conflictStyle=diff3", "-c", "commit.gpgsign=false",
               "-c", "core.hooksPath=/dev/null")


class PortConflict(PatchError):
    """The three-way merge of a port conflicts; the conflicted tree is kept for a person to resolve."""


@dataclass(frozen=True)
class Change:
    path: str
    kind: str  # "modify" | "add" | "delete"


@dataclass(frozen=True)
class Ported:
    patch: Path  # the ported patch, in the cache
    sha256: str
    base_version: str
    base_patch: Path
    base_patch_sha256: str
    target_version: str


def _version(text: str, what: str) -> Version:
    try:
        return Version(text)
    except InvalidVersion:
        raise ConfigError(f"{what} {text!r} is not a version", "write it like 2.4.6") from None


def choose_base(m: Manifest, variant: str, version: str, port_from: str | None = None) -> str:
    """The version whose patch of ``variant`` is ported to ``version``: ``port_from`` if given, else
    the nearest listed version not newer than ``version``, else the nearest newer one."""
    listed = list(m.variant(variant).patches)
    if port_from is not None:
        if port_from not in listed:
            raise ConfigError(f"--port-from {port_from}: variant {variant!r} has no patch for NumPy "
                              f"{port_from}",
                              f"port from one of {', '.join(listed) or '(none)'}")
        return port_from
    if not listed:
        raise ConfigError(f"variant {variant!r} has no patch on either side of NumPy {version} to port from",
                          f"write patches/{version}/{variant}.patch and list it in patches/manifest.toml")
    want = _version(version, "NumPy")
    older = [v for v in listed if Version(v) <= want]
    return max(older, key=Version) if older else min(listed, key=Version)


def changes(patch: Path) -> list[Change]:
    """The files ``patch`` touches, in order, and whether it adds, deletes or modifies each."""
    found: list[Change] = []
    for line in patch_bytes(patch).decode("utf-8").splitlines():
        if line.startswith("diff --git "):
            m = re.match(r"diff --git a/(\S+) b/(\S+)$", line)
            if not m or m.group(1) != m.group(2):
                raise PatchError(f"{patch}: cannot port {line!r} (a rename or an unusual path)",
                                 "port this patch by hand")
            found.append(Change(m.group(2), "modify"))
        elif found and line.startswith(("new file mode", "deleted file mode")):
            found[-1] = Change(found[-1].path, "add" if line.startswith("new") else "delete")
    if not found:
        raise PatchError(f"{patch} changes no file", "check the patch")
    return found


def check_paths(target: Path, todo: Sequence[Change], base_version: str, target_version: str,
                variant: str = "<variant>") -> None:
    """Refuse a port whose base patch changes a file the target tree has not at the same path."""
    moved = []
    for c in todo:
        if c.kind == "add" or (target / c.path).is_file():
            continue
        stem = Path(c.path).with_suffix("")
        other = [f"{stem}{s}" for s in _MOVED_SUFFIXES if (target / f"{stem}{s}").is_file()]
        moved.append(f"{c.path} -> {other[0]}" if other else f"{c.path} (gone)")
    if moved:
        raise ConfigError(
            f"cannot port the {base_version} patch to NumPy {target_version}: the dispatch code moved "
            f"between files ({'; '.join(moved)}; {MOVES_NOTE}); a three-way merge across that line "
            "would be a half-merge, so it is refused",
            f"port from a version on the same side (--port-from), or write patches/{target_version}/"
            f"{variant}.patch by hand",
        )


def _env(repo: Path) -> dict[str, str]:
    return {"GIT_CEILING_DIRECTORIES": str(repo.parent), "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0"}


def git(repo: Path, *args: str | Path, check: bool = True) -> proc.subprocess.CompletedProcess[str]:
    """git in a private repository: no global or system configuration, no enclosing repository."""
    return proc.run(["git", *_GIT_CONFIG, *args], cwd=repo, env=_env(repo), echo=False, check=check)


def _copy_files(src: Path, dest: Path, todo: Sequence[Change]) -> None:
    for c in todo:
        if (src / c.path).is_file():
            (dest / c.path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src / c.path, dest / c.path)
        else:
            (dest / c.path).unlink(missing_ok=True)


def _commit(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--allow-empty", "--no-verify", "-m", message)
    return git(repo, "rev-parse", "HEAD").stdout.strip()


def init_repo(repo: Path, files_from: Path, todo: Sequence[Change], message: str) -> str:
    """A private repository at ``repo`` whose first commit holds ``todo``'s files of ``files_from``."""
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "target")
    _copy_files(files_from, repo, todo)
    return _commit(repo, message)


def diff_from(repo: Path, commit: str, todo: Sequence[Change]) -> str:
    """The patch from ``commit`` to the work tree (``todo``'s files), in ``git diff`` form."""
    git(repo, "add", "-A")
    out = git(repo, "diff", "--cached", "--no-color", "--no-ext-diff", "--no-renames", commit, "--",
              *[c.path for c in todo]).stdout
    if not out.strip():
        raise PatchError("the ported patch is empty: the target tree already has the variant's changes",
                         "nothing to port; compare the trees by hand")
    return out


def header(base_patch: Path, target_version: str, base_version: str, base_sha: str, note: str = "") -> str:
    """The base patch's DEP-3 header with this NumPy version and where the patch was ported from."""
    lines = []
    for line in patch_bytes(base_patch).decode("utf-8").splitlines():
        if line.startswith(("diff --git", "--- ", "Index: ")):
            break
        lines.append(f"NumPy: {target_version}" if line.startswith("NumPy:") else line)
    while lines and not lines[-1].strip():
        lines.pop()
    lines.append(f"Ported-From: {base_version} (patch sha256 {base_sha}){note}")
    return "\n".join(lines) + "\n\n"


def _regions(text: str) -> list[tuple[int, list[str], list[str]]]:
    """diff3 conflict regions of a file: (line of ``<<<<<<<``, base lines, patched-side lines)."""
    found: list[tuple[int, list[str], list[str]]] = []
    base: list[str] = []
    theirs: list[str] = []
    state, start = "", 0
    for n, line in enumerate(text.splitlines(), 1):
        if line.startswith("<<<<<<< "):
            state, start, base, theirs = "ours", n, [], []
        elif line.startswith("||||||| ") and state == "ours":
            state = "base"
        elif line.startswith("=======") and state in ("ours", "base"):
            state = "theirs"
        elif line.startswith(">>>>>>> ") and state == "theirs":
            found.append((start, base, theirs))
            state = ""
        elif state == "base":
            base.append(line)
        elif state == "theirs":
            theirs.append(line)
    return found


def _find(lines: list[str], part: list[str]) -> int:
    """1-based line where ``part`` starts in ``lines`` (0: not found)."""
    for i in range(len(lines) - len(part) + 1):
        if lines[i:i + len(part)] == part:
            return i + 1
    return 0


def _hunks(patch: Path, path: str) -> list[tuple[int, int, int, int, str]]:
    """(old start, old count, new start, new count, header line) of ``patch``'s hunks for ``path``."""
    found, current = [], ""
    for line in patch_bytes(patch).decode("utf-8").splitlines():
        if line.startswith("diff --git"):
            current = line.split(" b/", 1)[-1]
        elif line.startswith("@@") and current == path:
            m = re.match(r"@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@", line)
            if m:
                a, b, c, d = (int(x) if x is not None else 1 for x in m.groups())
                found.append((a, b, c, d, line.split("@@", 2)[2].strip()))
    return found


def conflict_lines(repo: Path, base_commit: str, patched_commit: str, base_patch: Path) -> list[str]:
    """One line per conflict: the file, the base patch's hunk it comes from, where it is."""
    files = git(repo, "diff", "--name-only", "--diff-filter=U").stdout.split()
    out = []
    for path in files:
        merged = (repo / path).read_text(encoding="utf-8", errors="replace") if (repo / path).exists() else ""
        old = git(repo, "show", f"{base_commit}:{path}", check=False).stdout.splitlines()
        new = git(repo, "show", f"{patched_commit}:{path}", check=False).stdout.splitlines()
        hunks = _hunks(base_patch, path)
        regions = _regions(merged)
        if not regions:  # e.g. modify/delete: no markers
            out.append(f"{path}: {git(repo, 'status', '--short', '--', path).stdout.strip()}")
        for line_no, base, theirs in regions:
            at_new, at_old = _find(new, theirs) if theirs else 0, _find(old, base) if base else 0
            span_new = (at_new, at_new + max(len(theirs), 1))
            span_old = (at_old, at_old + max(len(base), 1))
            names = [f"hunk #{i} (@@ -{a},{b} +{c},{d} @@{' ' + h if h else ''})"
                     for i, (a, b, c, d, h) in enumerate(hunks, 1)
                     if (at_new and c < span_new[1] and span_new[0] < c + max(d, 1))
                     or (at_old and a < span_old[1] and span_old[0] < a + max(b, 1))]
            out.append(f"{path}: {', '.join(names) or 'a hunk'} conflicts at line {line_no} of the "
                       "conflicted file")
    return out


def resolve_command(variant: str, spec: str, base_version: str, tree: Path) -> str:
    return f"nox -s port -- --variant {variant} --numpy {spec} --port-from {base_version} --resolved {tree}"


def port(target: Source, variant: str, base: Source, base_patch: Path) -> Ported:
    """``base_patch`` (``variant`` on ``base``) merged onto ``target``: the cached ported patch."""
    base_sha = patch_sha256(base_patch)
    key = paths.content_key(target.sha256, base_sha, base.version, base.sha256, variant, RECIPE)
    final = paths.cache_root() / "ports" / key
    result = Ported(final / f"{variant}.patch", "", base.version, base_patch, base_sha, target.version)
    if (final / "port.json").is_file():
        return _found(result, final)
    todo = changes(base_patch)
    check_paths(target.tree, todo, base.version, target.version, variant)
    with tempfile.TemporaryDirectory(dir=paths.cache_dir("tmp")) as tmp:
        repo = Path(tmp) / "tree"
        base_commit = init_repo(repo, base.tree, todo, f"NumPy {base.version} (merge base)")
        git(repo, "checkout", "-q", "-b", "patched")
        lf = Path(tmp) / "base.patch"
        lf.write_bytes(patch_bytes(base_patch))
        git(repo, "apply", "--whitespace=nowarn", lf)
        patched_commit = _commit(repo, f"{variant} on NumPy {base.version}")
        git(repo, "checkout", "-q", "target")
        _copy_files(target.tree, repo, todo)
        target_commit = _commit(repo, f"NumPy {target.version} ({target.spec})")
        merge = git(repo, "merge", "--no-edit", "--no-ff", "-q", "patched", check=False)
        if merge.returncode != 0:
            _conflict(repo, final, variant, target, base, base_patch, base_commit, patched_commit)
        body = diff_from(repo, target_commit, todo)
        text = header(base_patch, target.version, base.version, base_sha) + body
        with paths.staging(final) as stage:
            (stage.path / f"{variant}.patch").write_text(text, encoding="utf-8")
            (stage.path / "port.json").write_text(json.dumps(
                {"variant": variant, "base_version": base.version, "base_patch_sha256": base_sha,
                 "base_source_sha256": base.sha256, "target_spec": str(target.spec),
                 "target_version": target.version, "target_source_sha256": target.sha256,
                 "files": [c.path for c in todo]}, indent=2))
    return _found(result, final)


def _found(result: Ported, final: Path) -> Ported:
    return replace(result, patch=final / result.patch.name, sha256=patch_sha256(final / result.patch.name))


def _conflict(repo: Path, final: Path, variant: str, target: Source, base: Source, base_patch: Path,
              base_commit: str, patched_commit: str) -> None:
    where = final.parent / "conflicts" / final.name
    lines = conflict_lines(repo, base_commit, patched_commit, base_patch)
    kept = where.exists()  # same inputs, same conflicts: an earlier tree may hold a resolution under way
    with paths.staging(where) as stage:
        os.rename(repo, stage.path / "tree")
    tree = where / "tree"
    raise PortConflict(
        f"porting {variant!r} from NumPy {base.version} to {target.version}"
        f"{'' if str(target.spec) == target.version else f' ({target.spec})'} conflicts; "
        f"nothing was built:\n" + "\n".join(f"  {line}" for line in lines)
        + "\n  conflicted tree (a git repository of the files the patch touches, diff3 markers"
        + ("; kept from an earlier run, with any resolution made there" if kept else "") + f"): {tree}",
        f"resolve the conflicts in {tree} (remove every <<<<<<< ||||||| ======= >>>>>>> marker), then "
        f"run: {resolve_command(variant, str(target.spec), base.version, tree)}",
    )


def _markers(tree: Path, todo: Sequence[Change]) -> list[str]:
    left = []
    for c in todo:
        f = tree / c.path
        if f.is_file():
            for n, line in enumerate(f.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
                if line.startswith(("<<<<<<< ", ">>>>>>> ", "||||||| ")):
                    left.append(f"{c.path}:{n}")
    return left


def from_resolved(target: Source, variant: str, base: Source, base_patch: Path, resolved: Path) -> str:
    """The patch (header included) from ``target`` to the files of a resolved tree: the conflicted
    tree of a port once a person fixed it, or any tree holding the patch's files at their paths."""
    if not resolved.is_dir():
        raise ConfigError(f"--resolved {resolved} is not a directory",
                          "pass the conflicted tree the port printed")
    todo = changes(base_patch)
    check_paths(target.tree, todo, base.version, target.version, variant)
    missing = [c.path for c in todo if c.kind != "delete" and not (resolved / c.path).is_file()]
    if missing:
        raise ConfigError(f"--resolved {resolved} lacks {', '.join(missing)}",
                          "pass the conflicted tree the port printed (or a tree with those files)")
    left = _markers(resolved, todo)
    if left:
        raise ConfigError(f"conflict markers are left in {', '.join(left[:8])}",
                          "resolve every conflict (remove the <<<<<<< ||||||| ======= >>>>>>> lines), "
                          "then run again")
    base_sha = patch_sha256(base_patch)
    with tempfile.TemporaryDirectory(dir=paths.cache_dir("tmp")) as tmp:
        repo = Path(tmp) / "tree"
        commit = init_repo(repo, target.tree, todo, f"NumPy {target.version}")
        _copy_files(resolved, repo, todo)
        text = header(base_patch, target.version, base.version, base_sha, ", conflicts resolved by hand")
        text += diff_from(repo, commit, todo)
        git(repo, "reset", "-q", "--hard", commit)
        (Path(tmp) / "check.patch").write_text(text, encoding="utf-8")
        # strict, as builds apply it
        git(repo, "apply", "--check", "--whitespace=nowarn", Path(tmp) / "check.patch")
    return text
