"""``git:URL@REF`` specs: refused URLs and refs, and the checkouts of local repositories (real git,
no network)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lockswap.base.errors import ConfigError, FetchError
from lockswap.source import fetch as source
from lockswap.source import git

REPO = Path(__file__).resolve().parents[2]
needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="needs the git binary")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("git:--upload-pack=touch /tmp/x@ref", "starts with '-'"),
        ("git:-oProxyCommand=x@main", "starts with '-'"),
        ("git:https://example.org/numpy.git@--upload-pack=touch /tmp/x", "starts with '-'"),
        ("git:https://example.org/numpy.git@-b", "starts with '-'"),
        ("git:ext::sh -c touch% /tmp/x@main", "transport helper"),
        ("git:fd::17@main", "transport helper"),
        ("git:http://example.org/numpy.git@main", "scheme 'http' is not accepted"),
        ("git:ftp://example.org/numpy.git@main", "scheme 'ftp' is not accepted"),
        ("git:ssh://-oProxyCommand=touch%20x/numpy@main", "ssh option"),
        ("git:ssh://-x@host/numpy@main", "ssh option"),
        ("git:https:///numpy.git@main", "has no host"),
        ("git:-host:numpy.git@main", "starts with '-'"),
        ("git:bad_host!:numpy.git@main", "neither a URL"),
        ("git:https://example.org/numpy\n.git@main", "control character"),
        ("git:https://example.org/numpy.git@v2..6", "not a valid ref name"),
        ("git:https://example.org/numpy.git@HEAD~1", "not a valid ref name"),
        ("git:https://example.org/numpy.git@a b", "not a valid ref name"),
        ("git:https://example.org/numpy.git@x.lock", "not a valid ref name"),
        ("git:https://example.org/numpy.git@feature/", "not a valid ref name"),
        ("git:https://example.org/numpy.git@.hidden", "not a valid ref name"),
        ("git:https://example.org/numpy.git@refs//heads", "not a valid ref name"),
        ("git:https://example.org/numpy.git@a:b", "not a valid ref name"),
    ],
)
def test_bad_git_specs_are_one_config_error_with_a_hint(spec, message):
    with pytest.raises(ConfigError) as err:
        source.parse_spec(spec)
    assert message in err.value.message
    assert err.value.hint and "git" in err.value.hint.lower() + err.value.message.lower()


@pytest.mark.parametrize(
    "url",
    ["https://example.org/numpy.git", "ssh://git@example.org/numpy.git", "git://example.org/numpy.git",
     "file:///srv/numpy.git", "git@example.org:numpy/numpy.git", "example.org:numpy.git", "/srv/numpy.git"],
)
def test_accepted_urls_are_kept(url):
    assert source.parse_spec(f"git:{url}@v2.2.6") == source.Spec("git", url, "v2.2.6")


def test_a_relative_local_path_is_made_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert source.parse_spec("git:./numpy@main").value == str(tmp_path / "numpy")


REFS = ["main", "v2.2.6", "pull/123/head", "refs/tags/v2.2.6", "feature/x-y_z", "a" * 40, "@", "a..b",
        "a/.b", "x.lock", "a//b", "a/", "/a", "a.", "a@{b", "a b", "a~1", "a^", "a:b", "a?", "a*", "a[",
        "a\\b", "HEAD", "release.2.x", "ref\x7f"]


@needs_git
@pytest.mark.parametrize("ref", REFS)
def test_the_ref_rule_agrees_with_git_check_ref_format(ref):
    by_git = subprocess.run(["git", "check-ref-format", "--allow-onelevel", ref], capture_output=True)
    try:
        git.check_ref(ref)
        ours = True
    except ConfigError:
        ours = False
    assert ours == (by_git.returncode == 0)


def _repo(path: Path, version: str = "2.5.0.dev0") -> Path:
    def run(*args: str) -> str:
        return subprocess.run(["git", "-C", str(path), *args], check=True, capture_output=True,
                              text=True, env={**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
                                              "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}).stdout

    path.mkdir(parents=True)
    run("init", "-q", "-b", "main")
    (path / "pyproject.toml").write_text(f'[project]\nname = "numpy"\nversion = "{version}"\n')
    run("add", "pyproject.toml")
    run("commit", "-q", "-m", "first")
    run("tag", "-a", "v1", "-m", "v1")
    return path


def _commit(path: Path, version: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t"}
    (path / "pyproject.toml").write_text(f'[project]\nname = "numpy"\nversion = "{version}"\n')
    subprocess.run(["git", "-C", str(path), "commit", "-q", "-am", version], check=True, env=env)
    return subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"], check=True, capture_output=True,
                          text=True).stdout.strip()


@needs_git
def test_the_upload_pack_attack_runs_nothing(tmp_path):
    """The reported attack, against the real git binary: the URL, or the ref, is an option."""
    up = _repo(tmp_path / "up")
    env = {**os.environ, "LOCKSWAP_CACHE": str(tmp_path / "cache"), "PYTHONPATH": str(REPO / "scripts")}
    for n, spec in enumerate([f"git:--upload-pack=touch {tmp_path}/x0@ref",
                              f"git:{up}@--upload-pack=touch {tmp_path}/x1"]):
        got = subprocess.run([sys.executable, "-m", "lockswap", "fetch", "--numpy", spec], env=env,
                             capture_output=True, text=True, cwd=tmp_path)
        assert got.returncode == 2, got.stdout + got.stderr
        assert "starts with '-'" in got.stdout + got.stderr and "Traceback" not in got.stderr
        assert not (tmp_path / f"x{n}").exists()


@needs_git
def test_git_calls_put_urls_and_refs_after_the_options_separator(cache, tmp_path):
    """Even past the spec check, git reads an option-like URL as a repository, not an option."""
    with pytest.raises(Exception):  # noqa: B017 - git fails: no such repository
        git._checkout(f"--upload-pack=touch {tmp_path}/x", "main", "0" * 40, "")
    assert not (tmp_path / "x").exists()
    assert not any(p for p in (cache / "git" / "trees").iterdir() if not p.name.startswith("."))


@needs_git
def test_a_tag_is_fetched_once_and_then_used_without_the_remote(cache, tmp_path):
    up = _repo(tmp_path / "up")
    first = source.fetch(f"git:{up}@v1")
    assert first.version == "2.5.0.dev0" and len(first.sha256) == 40
    shutil.rmtree(up)  # the remote is gone: a tag seen before needs no network
    again = source.fetch(f"git:{up}@v1")
    assert (again.tree, again.sha256) == (first.tree, first.sha256)


@needs_git
def test_a_commit_id_is_fetched_once(cache, tmp_path):
    up = _repo(tmp_path / "up")
    commit = _commit(up, "2.5.0.dev1")
    src = source.fetch(f"git:file://{up}@{commit}")
    assert src.sha256 == commit and src.version == "2.5.0.dev1"
    shutil.rmtree(up)
    assert source.fetch(f"git:file://{up}@{commit}").tree == src.tree


@needs_git
@pytest.mark.parametrize("ref", ["main", "pull/7/head"])
def test_a_branch_or_pull_ref_is_resolved_again_on_each_use(cache, tmp_path, ref):
    up = _repo(tmp_path / "up")
    subprocess.run(["git", "-C", str(up), "update-ref", "refs/pull/7/head", "HEAD"], check=True)
    first = source.fetch(f"git:{up}@{ref}")
    new = _commit(up, "2.5.0.dev2")
    subprocess.run(["git", "-C", str(up), "update-ref", "refs/pull/7/head", new], check=True)
    second = source.fetch(f"git:{up}@{ref}")
    assert second.sha256 == new != first.sha256 and second.version == "2.5.0.dev2"
    assert first.tree.is_dir() and second.tree != first.tree  # one checkout per commit


@needs_git
def test_an_unreachable_branch_uses_its_last_commit_and_says_so(cache, tmp_path, capsys):
    up = _repo(tmp_path / "up")
    first = source.fetch(f"git:{up}@main")
    shutil.rmtree(up)
    assert source.fetch(f"git:{up}@main").sha256 == first.sha256
    assert "using the commit it had when last fetched" in capsys.readouterr().err


@needs_git
def test_a_missing_ref_is_one_fetch_error(cache, tmp_path):
    up = _repo(tmp_path / "up")
    with pytest.raises(FetchError, match="has no ref 'nosuch'"):
        source.fetch(f"git:{up}@nosuch")
    assert not (cache / "git" / "trees").exists() or not any((cache / "git" / "trees").iterdir())


def test_ls_remote_lookup_follows_gits_order_and_peels_tags():
    out = "\n".join([f"{'1' * 40}\trefs/heads/v1", f"{'2' * 40}\trefs/tags/v1",
                     f"{'3' * 40}\trefs/tags/v1^{{}}", f"{'4' * 40}\trefs/pull/9/head"])
    assert git.parse_ls_remote(out, "v1") == ("refs/tags/v1", "tag", "3" * 40)
    assert git.parse_ls_remote(out, "pull/9/head") == ("refs/pull/9/head", "branch", "4" * 40)
    assert git.parse_ls_remote(out, "refs/heads/v1") == ("refs/heads/v1", "branch", "1" * 40)
    assert git.parse_ls_remote(out, "nosuch") is None
