"""Strict, atomic application of a variant's patch to a pristine NumPy tree.

``git apply`` (no fuzz, whitespace exact) is run with ``--check`` on a private copy first; the
patched copy is renamed into the cache only when everything applied, so a failure never leaves a
half-patched tree anywhere.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..base import log, paths, proc
from ..base.errors import CommandError, ConfigError, PatchError
from ..base.manifest import Manifest
from ..source.fetch import Source
from ..source.trees import copy_tree

HEADER_FIELDS = ("Description", "Origin", "Author", "NumPy", "Variant")


@dataclass(frozen=True)
class PatchedTree:
    source: Source
    variant: str
    tree: Path
    patch: Path | None
    patch_sha256: str  # "" for baseline
    ported_from: str = ""  # the NumPy version whose patch was ported to this tree ("" if none)
    base_patch_sha256: str = ""  # that version's patch (the ported one is ``patch``)


def read_header(patch: Path) -> dict[str, str]:
    """The DEP-3 style header before the diff: ``Field: value`` lines, continuations indented."""
    fields: dict[str, str] = {}
    last = ""
    try:
        text = patch.read_text(encoding="utf-8")
    except OSError as exc:  # e.g. the manifest names a patch that was moved or deleted
        raise PatchError(f"cannot read patch {patch}: {exc.strerror or exc}",
                         "restore the file, or fix its path in the manifest (patches/manifest.toml "
                         "or LOCKSWAP_MANIFEST)") from exc
    for line in text.splitlines():
        if line.startswith(("diff --git", "--- ", "Index: ")):
            break
        if line.startswith(" ") and last:
            fields[last] += "\n" + line[1:]
        elif m := re.match(r"^([A-Za-z][\w-]*):\s*(.*)$", line):
            last = m.group(1)
            fields[last] = m.group(2)
    missing = [f for f in HEADER_FIELDS if f not in fields]
    if missing:
        raise PatchError(
            f"{patch}: header lacks {', '.join(missing)}",
            f"start the patch with the fields {', '.join(HEADER_FIELDS)} (README.md, Variants and patches)",
        )
    return fields


def _hunk_of(patch: Path, file: str, line: int) -> str:
    """Name the hunk of ``patch`` for ``file`` that starts at original ``line``."""
    current, n = "", 0
    for text in patch.read_text(encoding="utf-8").splitlines():
        if text.startswith("diff --git"):
            current, n = text.split(" b/", 1)[-1], 0
        elif text.startswith("@@") and current == file:
            n += 1
            m = re.match(r"@@ -(\d+)", text)
            if m and int(m.group(1)) == line:
                return f"hunk #{n} ({text.strip()})"
    return f"the hunk at line {line}"


def explain_failure(patch: Path, output: str) -> str:
    if m := re.search(r"patch failed: (\S+?):(\d+)", output):
        return f"{m.group(1)}: {_hunk_of(patch, m.group(1), int(m.group(2)))} does not apply"
    if m := re.search(r"error: (\S+): (No such file or directory|does not exist in index)", output):
        return f"{m.group(1)}: file not found in this NumPy tree"
    lines = [ln for ln in output.splitlines() if ln.startswith("error:")]
    return lines[0] if lines else output.strip()[-300:]


# --- CRLF-converted checkouts ---
def patch_bytes(patch: Path) -> bytes:
    """The patch as written: a copy whose every line a checkout turned into CRLF (git's
    ``core.autocrlf`` on Windows, without ``.gitattributes``) is read back with LF endings, so it
    applies and hashes the same on every OS. A patch with only some CRLF lines is left as it is."""
    data = patch.read_bytes()
    lines = data.splitlines(keepends=True)
    if lines and all(line.endswith(b"\r\n") for line in lines):
        return data.replace(b"\r\n", b"\n")
    return data


def patch_sha256(patch: Path) -> str:
    return hashlib.sha256(patch_bytes(patch)).hexdigest()


def git_apply(patch: Path, tree: Path, *, check_only: bool) -> None:
    # GIT_CEILING_DIRECTORIES keeps git from applying relative to an enclosing repository.
    env = {"GIT_CEILING_DIRECTORIES": str(tree.parent)}
    args: list[str | Path] = ["git", "apply", "-p1", "--whitespace=nowarn"]
    data = patch_bytes(patch)
    lf_copy = tree.parent / f".{patch.name}.lf"  # beside the private tree, never in the checkout
    if data != patch.read_bytes():
        log.info(f"{patch.name} was checked out with CRLF line endings; applying it with LF")
        lf_copy.write_bytes(data)
    try:
        args += [*(["--check"] if check_only else []), lf_copy if lf_copy.exists() else patch]
        proc.run(args, cwd=tree, env=env, echo=not check_only)
    finally:
        lf_copy.unlink(missing_ok=True)


def apply(source: Source, variant: str, patch: Path | None, supported: Sequence[str] = ()) -> PatchedTree:
    """The tree of ``variant`` on ``source``: the pristine tree for baseline, else ``patch`` applied.

    Which patch a variant has for a NumPy version is decided before, by :func:`lockswap.request.target`;
    ``supported`` (the versions the variant has patches for) only goes into the failure's hint.
    """
    if patch is None:
        return PatchedTree(source, variant, source.tree, None, "")
    ported = ported_from(read_header(patch))
    psha = patch_sha256(patch)
    final = paths.cache_root() / "trees" / paths.content_key(source.sha256, psha)
    if (final / "tree").is_dir():
        return PatchedTree(source, variant, final / "tree", patch, psha, *ported)
    shown = Path(patch.parent.name, patch.name)
    with paths.staging(final) as stage, log.step(f"apply {shown} to NumPy {source.version}"):
        copy_tree(source.tree, stage.path / "tree")
        try:
            git_apply(patch, stage.path / "tree", check_only=True)
        except CommandError as exc:
            raise PatchError(
                f"patch {patch.name} for variant {variant!r} does not apply to NumPy "
                f"{source.version} ({source.spec}): {explain_failure(patch, exc.output_tail)}",
                f"{variant!r} supports NumPy {', '.join(supported) or source.version}; "
                "use one of those, or refresh the patch for this tree",
            ) from None
        git_apply(patch, stage.path / "tree", check_only=False)
    return PatchedTree(source, variant, final / "tree", patch, psha, *ported)


def ported_from(header: dict[str, str]) -> tuple[str, str]:
    """(version, its patch's sha256) of a ported patch's ``Ported-From`` field; empty strings if none."""
    m = re.match(r"(\S+) \(patch sha256 ([0-9a-f]{64})\)", header.get("Ported-From", ""))
    return (m.group(1), m.group(2)) if m else ("", "")


@dataclass(frozen=True)
class CheckRow:
    variant: str
    numpy: str
    ok: bool
    detail: str


def check_all(manifest: Manifest, fetch_source) -> list[CheckRow]:  # fetch_source: str -> Source
    """Check every (variant, NumPy version) patch of the manifest against its sdist."""
    import tempfile

    rows: list[CheckRow] = []
    used = {v for variant in manifest.variants.values() for v in variant.patches}
    sources = {v: fetch_source(v) for v in manifest.numpy if v in used}
    for name, variant in manifest.variants.items():
        for version, patch in variant.patches.items():
            source = sources[version]
            try:
                read_header(patch)
                with tempfile.TemporaryDirectory(dir=paths.cache_dir("tmp")) as tmp:
                    copy_tree(source.tree, Path(tmp) / "tree")
                    git_apply(patch, Path(tmp) / "tree", check_only=True)
                rows.append(CheckRow(name, version, True, "applies"))
            except CommandError as exc:
                rows.append(CheckRow(name, version, False, explain_failure(patch, exc.output_tail)))
            except (PatchError, ConfigError) as exc:
                rows.append(CheckRow(name, version, False, exc.message))
    return rows
