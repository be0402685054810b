"""``git:URL@REF`` specs: which URLs and refs are accepted, and the checkouts they resolve to.

Accepted URLs: ``https://``, ``ssh://``, ``git://`` and ``file://`` URLs, scp-like
``[user@]host:path`` (ssh), or a local path (made absolute). Refused: anything starting with ``-``
(git would read it as an option), other schemes and transport helpers (``ext::``), control
characters. A ref follows ``git check-ref-format --allow-onelevel`` (tag, branch, ``pull/N/head``,
``refs/...``) or is a full commit id; it never starts with ``-``. Every git call that takes a URL or
ref puts it after ``--``.

Cache: ``git/trees/<commit>/`` is one checkout (submodules included) per commit;
``git/refs/<key>.json`` records what a URL and ref resolved to. A tag or a full commit id is resolved
once; a branch, ``pull/N/head`` or any other ref is resolved again (``git ls-remote``) on each use,
and a new commit gets its own checkout.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import urlsplit

from ..base import log, paths, proc
from ..base.errors import CommandError, ConfigError, FetchError

SCHEMES = ("https", "ssh", "git", "file")
URL_HINT = ("write git:URL@REF with an https://, ssh://, git:// or file:// URL, user@host:path (ssh) or a "
            "local path, e.g. git:https://host/numpy.git@v2.2.6")
REF_HINT = "use a tag, a branch, pull/N/head or a full commit id (git check-ref-format rules)"
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_SCP = re.compile(r"^(?:([A-Za-z0-9._~+][A-Za-z0-9._~+-]*)@)?([A-Za-z0-9][A-Za-z0-9.-]*):(.+)$")
_COMMIT = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")
_REF_CHARS = re.compile(r"^[\x21-\x7e]+$")  # printable ASCII, no space
# Disallowed anywhere in a ref (git check-ref-format rules 3-5, 8, 10)
_REF_BAD = ("..", "~", "^", ":", "?", "*", "[", "\\", "@{", "//")
_PROTOCOLS = ("-c", "protocol.ext.allow=never")  # no transport helper, whatever the user's config
FETCH_TIMEOUT = 1800.0
LS_REMOTE_TIMEOUT = 120.0


def _control(text: str) -> bool:
    return any(ord(c) < 0x20 or ord(c) == 0x7F for c in text)


def check_url(url: str) -> str:
    """``url`` as git should get it (local paths made absolute); one ConfigError if it is refused."""
    if not url:
        raise ConfigError("the git spec has no URL", URL_HINT)
    if url.startswith("-"):
        raise ConfigError(f"git URL {url!r} starts with '-' (git would read it as an option)", URL_HINT)
    if _control(url):
        raise ConfigError(f"git URL {url!r} contains a control character", URL_HINT)
    if "::" in url:
        raise ConfigError(f"git URL {url!r} names a transport helper ('::'), which runs commands", URL_HINT)
    m = _SCHEME.match(url)
    if m:
        scheme = m.group(1).lower()
        if scheme not in SCHEMES:
            raise ConfigError(f"git URL {url!r}: scheme {scheme!r} is not accepted "
                              f"(only {', '.join(SCHEMES)})", URL_HINT)
        parts = urlsplit(url)
        host = parts.netloc.rpartition("@")[2]
        user = parts.netloc.rpartition("@")[0]
        if scheme != "file" and not host:
            raise ConfigError(f"git URL {url!r} has no host", URL_HINT)
        if host.startswith("-") or user.startswith("-"):
            raise ConfigError(f"git URL {url!r}: a host or user starting with '-' is an ssh option",
                              URL_HINT)
        return url
    colon, slash = url.find(":"), url.find("/")
    if colon > 0 and (slash < 0 or colon < slash):  # git reads [user@]host:path as ssh
        if not _SCP.match(url):
            raise ConfigError(f"git URL {url!r} is neither a URL, user@host:path nor a local path",
                              URL_HINT)
        return url
    return str(Path(url).expanduser().resolve())


def check_ref(ref: str) -> str:
    """``ref`` if git would take it as a ref name (``check-ref-format --allow-onelevel``) and it cannot
    be read as an option; else one ConfigError."""
    if not ref:
        raise ConfigError("the git spec has no ref", REF_HINT)
    if ref.startswith("-"):
        raise ConfigError(f"git ref {ref!r} starts with '-' (git would read it as an option)", REF_HINT)
    why = ""
    if not _REF_CHARS.match(ref):
        why = "contains a space, a control or a non-ASCII character"
    elif any(bad in ref for bad in _REF_BAD):
        why = "contains one of " + " ".join(_REF_BAD)
    elif ref == "@" or ref.startswith("/") or ref.endswith(("/", ".")):
        why = "is '@', starts or ends with '/', or ends with '.'"
    elif any(part.startswith(".") or part.endswith(".lock") for part in ref.split("/")):
        why = "has a component starting with '.' or ending with '.lock'"
    if why:
        raise ConfigError(f"git ref {ref!r} is not a valid ref name: it {why}", REF_HINT)
    return ref


def _git(*args: str | Path, hint: str = "", timeout: float | None = None, check: bool = True,
         echo: bool = True) -> str:
    return proc.run(["git", *_PROTOCOLS, *args], hint=hint, timeout=timeout, check=check,
                    echo=echo).stdout


def _record_path(url: str, ref: str) -> Path:
    return paths.cache_root() / "git" / "refs" / f"{paths.content_key(url, ref)}.json"


def _tree(commit: str) -> Path:
    return paths.cache_root() / "git" / "trees" / commit


def _read_record(url: str, ref: str) -> dict[str, str] | None:
    try:
        rec = json.loads(_record_path(url, ref).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    ok = (isinstance(rec, dict) and rec.get("kind") in ("tag", "commit", "branch")
          and isinstance(rec.get("commit"), str) and _COMMIT.match(rec["commit"]))
    return rec if ok else None


def parse_ls_remote(text: str, ref: str) -> tuple[str, str, str] | None:
    """(full ref name, kind, commit) of ``ref`` in ``git ls-remote`` output, in git's own order of
    ref lookup (``ref``, ``refs/ref``, ``refs/tags/ref``, ``refs/heads/ref``, ...); an annotated tag
    is peeled to its commit."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        sha, _, name = line.strip().partition("\t")
        if _COMMIT.match(sha) and name:
            found[name] = sha
    for name in (ref, f"refs/{ref}", f"refs/tags/{ref}", f"refs/heads/{ref}", f"refs/remotes/{ref}",
                 f"refs/remotes/{ref}/HEAD"):
        if name in found:
            kind = "tag" if name.startswith("refs/tags/") else "branch"
            return name, kind, found.get(f"{name}^{{}}", found[name])
    return None


def _resolve(url: str, ref: str, hint: str) -> tuple[str, str, str]:
    """Ask the remote what ``ref`` is now: (full ref name, kind, commit)."""
    out = _git("ls-remote", "--", url, ref, f"{ref}^{{}}", hint=hint, timeout=LS_REMOTE_TIMEOUT, echo=False)
    got = parse_ls_remote(out, ref)
    if got is None:
        raise FetchError(f"{url} has no ref {ref!r}", REF_HINT)
    return got


def _checkout(url: str, want: str, commit: str, hint: str) -> Path:
    """The checkout of ``commit``, fetched as ``want`` (a full ref name or the commit id)."""
    final = _tree(commit)
    if final.is_dir():
        return final
    with paths.staging(final) as stage, log.step(f"git fetch {url} {want}"):
        staging = stage.path
        _git("init", "-q", "--", staging)
        _git("-C", staging, "fetch", "--depth=1", "--no-tags", "--", url, want, hint=hint,
             timeout=FETCH_TIMEOUT)
        _git("-C", staging, "checkout", "-q", "--detach", "FETCH_HEAD")
        got = _git("-C", staging, "rev-parse", "HEAD", echo=False).strip()
        if got != commit:
            raise FetchError(f"{url} {want} moved while it was fetched (was {commit}, now {got})",
                             "run the command again: it resolves the ref anew")
        _git("-C", staging, "submodule", "update", "--init", "--recursive", "--depth=1", hint=hint,
             timeout=FETCH_TIMEOUT)
    return final


def fetch(url: str, ref: str) -> tuple[Path, str]:
    """The checkout of ``url`` at ``ref`` and its commit id. No network for a tag or commit id seen
    before; a branch or other moving ref is resolved again each time."""
    url, ref = check_url(url), check_ref(ref)
    hint = f"check that {url} is reachable and {ref} exists (tag, branch, pull/N/head or commit id)"
    rec = _read_record(url, ref)
    if rec and rec["kind"] in ("tag", "commit") and _tree(rec["commit"]).is_dir():
        return _tree(rec["commit"]), rec["commit"]
    if _COMMIT.match(ref):
        full, kind, commit = ref, "commit", ref
    else:
        try:
            full, kind, commit = _resolve(url, ref, hint)
        except CommandError as exc:  # unreachable: the last commit seen, said loudly
            if not (rec and _tree(rec["commit"]).is_dir()):
                raise
            log.warn(f"cannot resolve {ref} at {url} ({exc.message.splitlines()[0]}); using the commit it "
                     f"had when last fetched, {rec['commit']}")
            return _tree(rec["commit"]), rec["commit"]
    tree = _checkout(url, full, commit, hint)
    paths.atomic_write_text(_record_path(url, ref), json.dumps(
        {"url": url, "ref": ref, "full_ref": full, "kind": kind, "commit": commit}, indent=2) + "\n")
    return tree, commit
