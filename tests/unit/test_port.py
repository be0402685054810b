"""Porting a variant's patch to a NumPy tree it has no patch for: base choice, clean three-way merge,
conflicts (named by file and hunk, resolved with the printed command), the C -> C++ line, bad input.

The trees are small NumPy-shaped fixtures (tests/fixtures/port): a 2.2.0 tree (dispatching.cpp,
npy_hashtable.cpp) with the variant ``lock``'s patch, and a 2.1.0 tree with the same files as .c.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from lockswap import cli
from lockswap.base import manifest
from lockswap.base.errors import ConfigError, FetchError
from lockswap.build import pipeline
from lockswap.patch import apply as patching
from lockswap.patch import port
from lockswap.source import fetch as source
from lockswap.source.fetch import Source, Spec

FIXTURES = Path(__file__).parents[1] / "fixtures" / "port"
DISPATCH = "numpy/_core/src/umath/dispatching.cpp"
MANIFEST = """\
# fixture manifest: comments stay when `lockswap port` adds an entry
schema = 1
default_numpy = "2.2.0"

[numpy."2.1.0"]
lock = "c"
pythons = ["3.13t"]

[numpy."2.2.0"]
lock = "shared_mutex"
pythons = ["3.13t", "3.14t"]

[numpy."2.4.0"]
lock = "shared_mutex"
pythons = ["3.13t", "3.14t"]

[variants.baseline]
description = "b"

[variants.lock]
description = "fixture rwlock"
patches = { "2.2.0" = "2.2.0/lock.patch", "2.4.0" = "2.2.0/lock.patch" }

[variants.old]
description = "a variant with a patch on the C side only"
patches = { "2.1.0" = "2.2.0/lock.patch" }

[ci]
pythons = ["3.13t"]
os = ["ubuntu-24.04"]
"""


@pytest.fixture
def m(tmp_path, cache, monkeypatch) -> manifest.Manifest:
    shutil.copytree(FIXTURES / "2.2.0", tmp_path / "patches" / "2.2.0")
    path = tmp_path / "patches" / "manifest.toml"
    path.write_text(MANIFEST)
    monkeypatch.setenv("LOCKSWAP_MANIFEST", str(path))
    manifest.default.cache_clear()
    return manifest.default()


def tree(tmp_path: Path, version: str, edit: dict[str, tuple[str, str]] | None = None,
         of: str = "2.2.0") -> Path:
    """A copy of the fixture tree ``of`` as NumPy ``version``, with ``edit``: file -> (old, new) text."""
    dest = tmp_path / "trees" / f"numpy-{version}"
    shutil.copytree(FIXTURES / f"numpy-{of}", dest)
    (dest / "pyproject.toml").write_text(f'[project]\nname = "numpy"\nversion = "{version}"\n')
    for rel, (old, new) in (edit or {}).items():
        text = (dest / rel).read_text()
        assert old in text
        (dest / rel).write_text(text.replace(old, new))
    return dest


def base_source() -> Source:
    return Source(Spec("sdist", "2.2.0"), "2.2.0", FIXTURES / "numpy-2.2.0", "b" * 64)


def path_source(t: Path) -> Source:
    return source.fetch(f"path:{t}")


UPSTREAM = {DISPATCH: ("    return 0;\n", "    return 1;  /* changed upstream, far from the patch */\n")}
CONFLICT = {DISPATCH: ("std::shared_lock<std::shared_mutex> lock(*table->mutex);",
                       "std::shared_lock<std::shared_mutex> lock(table->mutex);  /* changed upstream */")}


# --- choosing the base ---

def test_base_is_the_nearest_listed_version_not_newer(m):
    assert port.choose_base(m, "lock", "2.3.0") == "2.2.0"
    assert port.choose_base(m, "lock", "2.9.1") == "2.4.0"
    assert port.choose_base(m, "lock", "2.4.0.dev0") == "2.2.0"  # a development tree of 2.4


def test_base_is_the_nearest_newer_version_when_none_is_older(m):
    assert port.choose_base(m, "lock", "2.1.5") == "2.2.0"


def test_port_from_overrides_and_must_be_listed(m):
    assert port.choose_base(m, "lock", "2.3.0", "2.4.0") == "2.4.0"
    with pytest.raises(ConfigError, match=r"--port-from 2\.3\.0: variant 'lock' has no patch") as err:
        port.choose_base(m, "lock", "2.3.5", "2.3.0")
    assert "2.2.0, 2.4.0" in err.value.hint


def test_target_decides_once_listed_patch_or_port(m):
    listed = pipeline.target(m, "lock", "2.2.0")
    assert listed.port_from is None and listed.patch == m.patch_for("lock", "2.2.0")
    ported = pipeline.target(m, "lock", "2.3.5")
    assert ported.port_from == "2.2.0" and ported.patch == m.patch_for("lock", "2.2.0")
    assert pipeline.target(m, "baseline", "2.3.5").patch is None
    later = pipeline.target(m, "lock", "path:/somewhere")  # version known once the tree is read
    assert later.port_from is None
    assert pipeline.pinned(m, later, "2.5.0.dev0", "2.2.0").port_from == "2.2.0"
    with pytest.raises(ConfigError, match="bad NumPy spec"):
        pipeline.target(m, "lock", "2.x")
    with pytest.raises(ConfigError, match="unknown variant"):
        pipeline.target(m, "nolock", "2.3.5")


# --- a clean port ---

def test_clean_port_is_cached_with_its_header_and_applies_strictly(m, tmp_path, cache):
    target = path_source(tree(tmp_path, "2.3.0", UPSTREAM))
    base_patch = m.patch_for("lock", "2.2.0")
    got = port.port(target, "lock", base_source(), base_patch)
    assert got.base_version == "2.2.0" and got.patch.is_relative_to(cache / "ports")
    text = got.patch.read_text()
    header = patching.read_header(got.patch)
    assert header["NumPy"] == "2.3.0" and header["Variant"] == "lock"
    assert header["Ported-From"] == f"2.2.0 (patch sha256 {patching.patch_sha256(base_patch)})"
    assert "npy_rwlock.h" in text  # the file the patch adds is ported too
    patched = patching.apply(target, "lock", got.patch)
    merged = (patched.tree / DISPATCH).read_text()
    assert "rwlock_rdlock(&table->rwlock);" in merged and "changed upstream, far from the patch" in merged
    assert (patched.ported_from, patched.base_patch_sha256) == ("2.2.0", patching.patch_sha256(base_patch))
    assert port.port(target, "lock", base_source(), base_patch) == got  # the cache entry, same bytes


# --- a conflict, resolved by hand with the printed command ---

def test_conflict_names_file_and_hunk_and_the_printed_command_makes_the_patch(m, tmp_path, cache, monkeypatch,
                                                                             capsys):
    t = tree(tmp_path, "2.3.1", CONFLICT)
    with pytest.raises(port.PortConflict) as err:
        port.port(path_source(t), "lock", base_source(), m.patch_for("lock", "2.2.0"))
    msg = str(err.value)
    assert f"{DISPATCH}: hunk #2 (@@ -18,8 +15,10 @@) conflicts at line" in msg
    assert "nothing was built" in msg and err.value.exit_code == 3
    assert not [p for p in (cache / "ports").iterdir() if p.name != "conflicts"]  # no ported patch cached
    conflicted = Path(re.search(r"conflicted tree \(.*\): (\S+)", msg).group(1))
    command = re.search(r"then run: nox -s port -- (.*)$", err.value.hint).group(1).split()
    assert command == ["--variant", "lock", "--numpy", f"path:{t}", "--port-from", "2.2.0",
                       "--resolved", str(conflicted)]
    text = (conflicted / DISPATCH).read_text()
    assert "<<<<<<< HEAD" in text and "||||||| " in text
    (conflicted / "note").write_text("a resolution under way")
    with pytest.raises(port.PortConflict, match="kept from an earlier run"):  # the same port again
        port.port(path_source(t), "lock", base_source(), m.patch_for("lock", "2.2.0"))
    assert (conflicted / "note").read_text() == "a resolution under way"

    monkeypatch.setattr(source, "fetch", _offline_fetch(source.fetch))
    assert cli.main(["port", *command]) == 2  # still unresolved: one error, nothing written
    out = capsys.readouterr()
    assert f"conflict markers are left in {DISPATCH}:" in out.out + out.err
    assert not (m.path.parent / "2.3.1").exists()

    start, end = text.index("<<<<<<< HEAD"), text.index(">>>>>>> patched\n") + len(">>>>>>> patched\n")
    resolved = ("    rwlock_rdlock(&table->rwlock);  /* changed upstream */\n"
                "    int res = get_item(table, key);\n"
                "    rwlock_rdunlock(&table->rwlock);\n    return res;\n")
    (conflicted / DISPATCH).write_text(text[:start] + resolved + text[end:])
    assert cli.main(["port", *command]) == 0
    written = m.path.parent / "2.3.1" / "lock.patch"
    assert patching.read_header(written)["Ported-From"].endswith("conflicts resolved by hand")
    manifest.default.cache_clear()
    again = manifest.load(m.path)
    assert again.patch_for("lock", "2.3.1") == written.resolve()
    assert again.numpy["2.3.1"].pythons == ("3.13t", "3.14t")  # copied from the base version
    assert m.path.read_text().startswith("# fixture manifest: comments stay")
    patched = patching.apply(path_source(t), "lock", written)  # strict, like every listed patch
    assert "/* changed upstream */" in (patched.tree / DISPATCH).read_text()
    assert patched.ported_from == "2.2.0"
    assert not pipeline.target(again, "lock", "2.3.1").port_from  # listed now: no more porting


def _offline_fetch(real):
    """source.fetch for the fixture versions (a released version would be downloaded); path: as usual."""
    def fetch(spec: str) -> Source:
        if spec == "2.2.0":
            return base_source()
        return real(spec)
    return fetch


# --- the C -> C++ line and bad input ---

def test_port_across_the_c_to_cpp_rename_is_refused_with_its_reason(m, tmp_path, cache):
    target = path_source(tree(tmp_path, "2.1.2", of="2.1.0"))
    with pytest.raises(ConfigError) as err:
        port.port(target, "lock", base_source(), m.patch_for("lock", "2.2.0"))
    assert (f"{DISPATCH} -> numpy/_core/src/umath/dispatching.c" in err.value.message
            and "NumPy 2.2 renamed dispatching.c and npy_hashtable.c to .cpp" in err.value.message)
    assert "half-merge" in err.value.message and "--port-from" in err.value.hint
    assert not (cache / "ports").exists() or not any((cache / "ports").iterdir())


def test_port_command_refuses_bad_input_with_one_message(m, tmp_path, cache, monkeypatch, capsys):
    monkeypatch.setattr(source, "fetch", _offline_fetch(source.fetch))
    notnumpy = tmp_path / "other"
    notnumpy.mkdir()
    (notnumpy / "pyproject.toml").write_text('[project]\nname = "scipy"\nversion = "1.0"\n')
    cases = [
        (["--variant", "nolock", "--numpy", "2.3.0"], "unknown variant 'nolock'", 2),
        (["--variant", "baseline", "--numpy", "2.3.0"], "baseline has no patch to port", 2),
        (["--variant", "lock", "--numpy", f"path:{notnumpy}"], "is not a NumPy source tree",
         FetchError.exit_code),
        (["--variant", "lock", "--numpy", "2.2.0"], "already has a patch for NumPy 2.2.0", 2),
        (["--variant", "lock", "--numpy", f"path:{tree(tmp_path, '2.3.0')}", "--port-from", "2.3.0"],
         "--port-from 2.3.0: variant 'lock' has no patch", 2),
        (["--variant", "lock", "--numpy", f"path:{tree(tmp_path, '2.3.2')}",
          "--resolved", str(tmp_path / "no")],
         "is not a directory", 2),
    ]
    for args, message, code in cases:
        assert cli.main(["port", *args]) == code, args
        out = capsys.readouterr()
        assert out.out.count("lockswap: error:") + out.err.count("lockswap: error:") == 1
        assert message in out.out + out.err
    assert sorted(p.name for p in m.path.parent.iterdir()) == ["2.2.0", "manifest.toml"]
    assert m.path.read_text() == MANIFEST
    ports = cache / "ports"
    assert not ports.exists() or not any(ports.iterdir())


def test_port_command_writes_patch_and_entry_that_nox_patches_checks(m, tmp_path, cache, monkeypatch):
    t = tree(tmp_path, "2.3.0", UPSTREAM)
    fetch = _offline_fetch(source.fetch)
    monkeypatch.setattr(source, "fetch", fetch)
    assert cli.main(["port", "--variant", "lock", "--numpy", f"path:{t}"]) == 0
    written = m.path.parent / "2.3.0" / "lock.patch"
    assert patching.read_header(written)["Ported-From"].startswith("2.2.0 (patch sha256 ")
    assert '"2.2.0" = "2.2.0/lock.patch", "2.3.0" = "2.3.0/lock.patch", "2.4.0"' in m.path.read_text()
    text = m.path.read_text()
    assert text.index('[numpy."2.2.0"]') < text.index('[numpy."2.3.0"]') < text.index('[numpy."2.4.0"]')
    versions = {"2.3.0": path_source(t), "2.2.0": base_source(), "2.4.0": base_source(),
                "2.1.0": base_source()}
    rows = patching.check_all(manifest.load(m.path), lambda v: versions[v])
    assert [(r.variant, r.numpy, r.ok) for r in rows if r.numpy == "2.3.0"] == [("lock", "2.3.0", True)]
    assert cli.main(["port", "--variant", "lock", "--numpy", f"path:{t}"]) == 2  # listed now: nothing to port


def test_a_version_newer_than_every_listed_one_goes_after_the_last_table(m, tmp_path):
    from lockswap.patch import port_manifest

    dest, where = port_manifest.write(m, "lock", "2.6.0.dev0", "2.4.0", "Description: x\n")
    text = where.read_text()
    assert dest == m.path.parent / "2.6.0.dev0" / "lock.patch"
    order = [text.index(h) for h in ('[numpy."2.4.0"]', '[numpy."2.6.0.dev0"]', "[variants.baseline]")]
    assert order == sorted(order)
    assert manifest.load(where).patch_for("lock", "2.6.0.dev0") == dest.resolve()
    with pytest.raises(ConfigError, match="already exists"):
        port_manifest.write(manifest.load(where), "lock", "2.6.0.dev0", "2.4.0", "x")
