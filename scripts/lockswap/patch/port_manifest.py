"""Write a ported patch into ``patches/<version>/<variant>.patch`` and its entry into the manifest.

The manifest is edited as text (its comments stay): a ``[numpy."<version>"]`` table copied from the
base version when the version is new, and the version added to the variant's ``patches`` inline
table. The new manifest is parsed and validated before it replaces the old one; the patch and the
manifest are each written atomically, and a manifest that would not load leaves neither behind.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from packaging.version import Version

from ..base import manifest, paths, tomlfile
from ..base.errors import ConfigError
from ..base.manifest import Manifest


def _numpy_table(m: Manifest, version: str, base_version: str) -> str:
    nv = m.numpy[base_version]
    return (f'[numpy."{version}"]\n'
            f"# copied from NumPy {base_version} by `lockswap port`: check lock and pythons\n"
            f"lock = {json.dumps(nv.lock)}\npythons = {json.dumps(list(nv.pythons))}\n"
            f"upstream_pythons = {json.dumps(list(nv.upstream_pythons))}\n\n")


def _with_numpy(text: str, m: Manifest, version: str, base_version: str) -> str:
    if version in m.numpy:
        return text
    headers = [(mt.start(), mt.group(1)) for mt in re.finditer(r'^\[numpy\."([^"]+)"\]\s*$', text, re.M)]
    later = [pos for pos, v in headers if Version(v) > Version(version)]
    if later:
        pos = min(later)
    else:  # after the last [numpy."..."] table: at the first blank line after its header
        last = max(pos for pos, _ in headers)
        blank = re.compile(r"^\s*$", re.M).search(text, last)
        pos = blank.end() + 1 if blank else len(text)
    return text[:pos] + _numpy_table(m, version, base_version) + text[pos:]


def _with_patch(text: str, variant: str, version: str, rel: str) -> str:
    section = re.search(rf"^\[variants\.{re.escape(variant)}\]\s*$(.*?)(?=^\[|\Z)", text, re.M | re.S)
    line = re.search(r"^patches\s*=\s*\{.*\}[ \t]*$", section.group(1), re.M) if section else None
    if section is None or line is None:
        raise ConfigError(f"cannot find the one-line `patches = {{...}}` of [variants.{variant}] in the "
                          "manifest",
                          f'add "{version}" = "{rel}" to its patches by hand')
    entries = dict(tomlfile.loads(line.group(0))["patches"])
    entries[version] = rel
    items = ", ".join(f'"{v}" = "{entries[v]}"' for v in sorted(entries, key=Version))
    start = section.start(1) + line.start()
    return text[:start] + f"patches = {{ {items} }}" + text[section.start(1) + line.end():]


def write(m: Manifest, variant: str, version: str, base_version: str, text: str) -> tuple[Path, Path]:
    """``text`` into ``<manifest folder>/<version>/<variant>.patch`` and its manifest entry."""
    rel = f"{version}/{variant}.patch"
    dest = m.path.parent / rel
    if dest.exists():
        raise ConfigError(f"{dest} already exists", "remove it (or list it in the manifest) and run again")
    old = m.path.read_text(encoding="utf-8")
    new = _with_patch(_with_numpy(old, m, version, base_version), variant, version, rel)
    paths.atomic_write_text(dest, text)
    try:
        got = manifest.parse(tomlfile.loads(new), m.path)
        if got.patch_for(variant, version) != dest.resolve():
            raise ConfigError("the edited manifest does not list the new patch", "add the entry by hand")
    except BaseException:
        dest.unlink(missing_ok=True)
        if not any(dest.parent.iterdir()):
            dest.parent.rmdir()
        raise
    paths.atomic_write_text(m.path, new)
    return dest, m.path
