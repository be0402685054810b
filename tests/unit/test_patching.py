from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from lockswap.base import manifest
from lockswap.base.errors import PatchError
from lockswap.build import pipeline as request
from lockswap.patch import apply as patching
from lockswap.source.fetch import Source, Spec

FIXTURES = Path(__file__).parents[1] / "fixtures"


@pytest.fixture
def setup(tmp_path, cache):
    tree = tmp_path / "pristine" / "numpy-2.1.3"
    shutil.copytree(FIXTURES / "patchtree", tree)
    pdir = tmp_path / "patches" / "2.1.3"
    pdir.mkdir(parents=True)
    shutil.copy(FIXTURES / "good.patch", pdir / "good.patch")
    shutil.copy(FIXTURES / "bad.patch", pdir / "bad.patch")
    (tmp_path / "patches" / "manifest.toml").write_text(
        'schema = 1\ndefault_numpy = "2.1.3"\n[numpy."2.1.3"]\npythons = ["3.13t"]\n'
        '[numpy."2.5.5"]\npythons = ["3.13t"]\n'
        '[variants.baseline]\ndescription = "b"\n'
        '[variants.good]\ndescription = "g"\npatches = { "2.1.3" = "2.1.3/good.patch" }\n'
        '[variants.bad]\ndescription = "b"\npatches = { "2.1.3" = "2.1.3/bad.patch" }\n'
        '[ci]\npythons = ["3.13t"]\nos = ["ubuntu-24.04"]\n'
    )
    m = manifest.load(tmp_path / "patches" / "manifest.toml")
    src = Source(Spec("sdist", "2.1.3"), "2.1.3", tree, "f" * 64)
    return m, src, cache


def apply(src: Source, variant: str, m: manifest.Manifest) -> patching.PatchedTree:
    """What the pipeline does: resolve the target (the one patch check), then patch."""
    t = request.target(m, variant, src.spec.value, src.version)
    return patching.apply(src, t.variant, t.patch, m.versions_for(variant))


def test_baseline_is_the_pristine_tree(setup):
    m, src, _ = setup
    assert apply(src, "baseline", m).tree == src.tree


def test_good_patch_applies_to_a_copy(setup):
    m, src, _ = setup
    patched = apply(src, "good", m)
    assert "the patched lookup" in (patched.tree / "lock.c").read_text()
    assert "the pristine lookup" in (src.tree / "lock.c").read_text()
    assert len(patched.patch_sha256) == 64
    assert apply(src, "good", m).tree == patched.tree  # cached


def test_failing_hunk_is_named_and_nothing_is_left(setup):
    m, src, cache = setup
    with pytest.raises(PatchError) as err:
        apply(src, "bad", m)
    assert "lock.c: hunk #2 (@@ -9,5 +9,5 @@)" in err.value.message
    assert "supports NumPy 2.1.3" in err.value.hint
    trees = cache / "trees"
    assert not trees.exists() or not any(trees.iterdir())
    assert "the pristine lookup" in (src.tree / "lock.c").read_text()


def test_variant_without_a_patch_for_the_version_is_ported_from_the_nearest(setup):
    m, _, _ = setup
    assert request.target(m, "good", "2.5.5").port_from == "2.1.3"  # decided before anything is fetched
    assert request.target(m, "good", "path:/x").patch is None  # known once the tree is read
    assert request.pinned(m, request.target(m, "good", "path:/x"), "2.5.5").port_from == "2.1.3"


def test_header_is_required(tmp_path):
    p = tmp_path / "x.patch"
    p.write_text("Description: only this\n\ndiff --git a/x b/x\n")
    with pytest.raises(PatchError, match=r"Origin, Author, NumPy, Variant"):
        patching.read_header(p)


def test_a_patch_that_vanished_is_one_actionable_error(tmp_path):
    """A manifest loaded at the start of a run can name a patch deleted since (seen when a variant was
    retired during a test-all run): one PatchError, not a traceback."""
    with pytest.raises(PatchError, match=r"cannot read patch .*gone\.patch") as info:
        patching.read_header(tmp_path / "gone.patch")
    assert "manifest" in str(info.value.hint)


def test_header_fields_and_continuations():
    fields = patching.read_header(FIXTURES / "good.patch")
    assert fields["Description"].endswith("It changes one line of the fixture tree.")
    assert fields["Variant"] == "tiny"


def test_check_all_reports_each_patch(setup):
    m, src, _ = setup
    rows = patching.check_all(m, lambda version: src)
    by_variant = {r.variant: r for r in rows}
    assert by_variant["good"].ok and not by_variant["bad"].ok
    assert "hunk #2" in by_variant["bad"].detail


def test_every_shipped_patch_has_a_complete_header():
    for variant in manifest.load().variants.values():
        for version, patch in variant.patches.items():
            fields = patching.read_header(patch)
            assert fields["Variant"] == variant.name and version in fields["NumPy"]


def test_a_patch_outside_the_manifest_folder_applies(setup, tmp_path):
    m, src, _ = setup
    elsewhere = tmp_path / "elsewhere" / "good.patch"
    elsewhere.parent.mkdir()
    elsewhere.write_text((FIXTURES / "good.patch").read_text())
    (tmp_path / "patches" / "manifest.toml").write_text(
        (tmp_path / "patches" / "manifest.toml").read_text().replace('"2.1.3/good.patch"', f'"{elsewhere}"'))
    m = manifest.load(tmp_path / "patches" / "manifest.toml")
    assert "the patched lookup" in (apply(src, "good", m).tree / "lock.c").read_text()


def test_a_crlf_converted_checkout_of_a_patch_applies_like_the_original(setup):
    """Windows runners check text out with CRLF when .gitattributes does not stop them."""
    m, src, _ = setup
    lf_patch = m.patch_for("good", "2.1.3")
    lf_sha = hashlib.sha256(lf_patch.read_bytes()).hexdigest()
    lf_patch.write_bytes(lf_patch.read_bytes().replace(b"\n", b"\r\n"))  # what core.autocrlf does
    patched = apply(src, "good", m)
    assert "the patched lookup" in (patched.tree / "lock.c").read_text()
    assert b"\r\n" not in (patched.tree / "lock.c").read_bytes()
    assert patched.patch_sha256 == lf_sha  # same key, so the same wheel, on every OS
    assert not list(patched.tree.parent.glob(".*.lf"))
    assert [r.ok for r in patching.check_all(m, lambda version: src) if r.variant == "good"] == [True]


def test_a_patch_with_some_crlf_lines_is_applied_byte_exact(tmp_path):
    patch = tmp_path / "mixed.patch"
    patch.write_bytes(b"Description: x\n-a\r\n+b\r\n")  # a patch of a CRLF file: keep its \r
    assert patching.patch_bytes(patch) == patch.read_bytes()


def test_gitattributes_keep_patches_byte_exact():
    text = (Path(__file__).parents[2] / ".gitattributes").read_text(encoding="utf-8")
    rules = [line.split()[:2] for line in text.splitlines()]
    assert ["*.patch", "-text"] in rules or ["*.patch", "binary"] in rules
