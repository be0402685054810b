"""Build a free-threaded CPython (``--disable-gil``) into the cache.

Source, in order: a local tarball (``--cpython-source`` / ``LOCKSWAP_CPYTHON_SOURCE``); the upstream
release tarball from python.org; on Debian/Ubuntu the distribution's source package, fetched with
``apt-get source`` through a private apt state that reuses the mirror of the system's own apt
sources (the system configuration is never modified). The build is keyed by the tarball's sha256
and the configure flags, and is moved into place only when complete.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import tarfile
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from packaging.version import Version

from ..base import locks, log, paths, proc, toolchain
from ..base.errors import ConfigError, FetchError, InterpreterError, ToolMissing
from . import sanitizer as san

RECIPE = 1  # bump when the build recipe changes, to rebuild cached interpreters
CONFIGURE_FLAGS = ("--disable-gil", "--with-ensurepip=install")
MINORS = ("3.14", "3.13")  # newest first
UPSTREAM = "https://www.python.org/ftp/python/"
# Suites searched for python3.X source packages, newest first (override: LOCKSWAP_APT_SUITES).
APT_SUITES = {"debian": ("sid", "forky", "trixie"), "ubuntu": ("questing", "plucky")}
APT_COMPONENTS = {"debian": "main", "ubuntu": "main universe"}
# header -> Debian package providing it; without them CPython silently skips modules pip needs.
HEADERS = {
    "openssl/ssl.h": "libssl-dev", "zlib.h": "zlib1g-dev", "ffi.h": "libffi-dev",
    "bzlib.h": "libbz2-dev", "lzma.h": "liblzma-dev",
}
REQUIRED_MODULES = ("ssl", "zlib", "ctypes", "bz2", "lzma")
_MINOR = re.compile(r"^3\.\d+$")
_SUITE = re.compile(r"^[a-z0-9][a-z0-9.-]*$")
_DEB_VERSION = re.compile(r"^[0-9][A-Za-z0-9.+~:-]*$")
# Network timeouts (seconds): connect/read of one request, a whole tarball, apt's steps.
HTTP_TIMEOUT = 60.0
DOWNLOAD_DEADLINE = 1800.0
APT_TIMEOUT = 1800.0
_TARBALL = re.compile(r"(?:Python-|python3\.\d+_)(3\.\d+\.\d+)(?:\.orig)?\.tar\.(?:xz|gz)$")


@dataclass(frozen=True)
class CPythonSource:
    tarball: Path
    version: str
    sha256: str
    origin: str


def _from_tarball(path: Path, origin: str) -> CPythonSource:
    m = _TARBALL.search(path.name)
    if not path.is_file() or not m:
        raise FetchError(
            f"{path} is not a CPython source tarball",
            "pass a file named like Python-3.13.5.tar.xz (or Debian's python3.13_3.13.5.orig.tar.xz)",
        )
    return CPythonSource(path, m.group(1), paths.sha256_file(path), origin)


def download(url: str, dest: Path, deadline: float = DOWNLOAD_DEADLINE) -> None:
    """``url`` into ``dest`` (atomically), each read within :data:`HTTP_TIMEOUT` and the whole within
    ``deadline`` seconds; OSError (TimeoutError) otherwise."""
    end = time.monotonic() + deadline
    with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT) as resp, paths.atomic_output(dest) as tmp, \
            tmp.open("wb") as out:
        while chunk := resp.read1(1 << 16):  # what has arrived: a trickle cannot outlast the deadline
            out.write(chunk)
            if time.monotonic() > end:
                raise TimeoutError(f"downloading {url} took longer than {deadline:.0f} s")


def check_minor(minor: str | None) -> str | None:
    """``minor`` (e.g. ``3.13``) if it is a Python minor version; it becomes part of package names."""
    if minor is not None and not _MINOR.match(minor):
        raise ConfigError(f"bad Python version {minor!r}", "write it like 3.13t (--python-version)")
    return minor


def _upstream(minor: str | None) -> CPythonSource:
    try:
        with urllib.request.urlopen(UPSTREAM, timeout=HTTP_TIMEOUT) as resp:
            listing = resp.read().decode()
        versions = sorted({Version(v) for v in re.findall(r'href="(3\.\d+\.\d+)/"', listing)}, reverse=True)
        for v in versions:
            version = str(v)
            if f"{v.major}.{v.minor}" in ((minor,) if minor else MINORS):
                name = f"Python-{version}.tar.xz"
                dest = paths.cache_dir("cpython-src") / name
                if not dest.exists():
                    download(f"{UPSTREAM}{version}/{name}", dest)
                return _from_tarball(dest, "python.org")
    except OSError as exc:
        raise FetchError(f"python.org is not reachable ({exc})") from exc
    raise FetchError(f"python.org lists no CPython {minor or ' or '.join(MINORS)} release")


def _os_release() -> dict[str, str]:
    try:
        text = Path("/etc/os-release").read_text()
    except OSError:
        return {}
    return dict(
        (k, v.strip('"')) for k, _, v in (ln.partition("=") for ln in text.splitlines()) if k
    )


def system_mirror(codename: str, files: list[Path] | None = None) -> str | None:
    """The URI of the system's own archive for ``codename``, read from its apt sources."""
    if files is None:
        files = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
    for f in files:
        try:
            text = f.read_text()
        except OSError:
            continue
        if f.suffix == ".sources":
            for stanza in re.split(r"\n\s*\n", text):
                lines = [ln for ln in stanza.splitlines() if ln and ln[0] not in "# \t"]
                fields = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines)}
                if codename in fields.get("suites", "").split():
                    return fields.get("uris", "").split()[0]
        else:
            for line in text.splitlines():
                parts = re.sub(r"\[[^]]*\]", "", line).split()
                if len(parts) >= 3 and parts[0] == "deb" and parts[2] == codename:
                    return parts[1]
    return None


def _orig_tarballs(folder: Path, minor: str) -> list[Path]:
    return [p for p in folder.glob(f"python{minor}_*.orig.tar.*") if _TARBALL.search(p.name)]


def _debian_order(version: str) -> list[tuple[int, str]]:
    """A sort key close enough to Debian's version order for python3.X packages."""
    return [(int(p), "") if p.isdigit() else (-1, p) for p in re.split(r"(\d+)", version) if p]


def _apt(minor: str | None) -> CPythonSource:
    osr = _os_release()
    distro = osr.get("ID", "")
    if distro not in APT_SUITES or not shutil.which("apt-get"):
        raise FetchError("no Debian/Ubuntu apt to fetch CPython source from")
    mirror = system_mirror(osr.get("VERSION_CODENAME", ""))
    if not mirror:
        raise FetchError("cannot find the system's archive mirror in /etc/apt/sources.list[.d]")
    env_suites = os.environ.get("LOCKSWAP_APT_SUITES")
    suites = env_suites.split() if env_suites else APT_SUITES[distro]
    bad = [s for s in suites if not _SUITE.match(s)]
    if bad:  # each becomes a line of the private sources.list
        raise ConfigError(f"LOCKSWAP_APT_SUITES: bad suite name(s) {bad}",
                          "list suite names like 'sid trixie'")
    state = paths.cache_dir("apt")
    (state / "lists" / "partial").mkdir(parents=True, exist_ok=True)
    (state / "parts").mkdir(exist_ok=True)
    sources = state / "sources.list"
    paths.atomic_write_text(
        sources,
        "".join(f"deb-src {mirror} {s} {APT_COMPONENTS[distro]}\n" for s in suites),
    )
    opts = [
        f"-oDir::Etc::SourceList={sources}", f"-oDir::Etc::SourceParts={state / 'parts'}",
        f"-oDir::State::Lists={state / 'lists'}", "-oAPT::Sandbox::User=root",
    ]
    with log.step(f"apt-get update (deb-src {' '.join(suites)} on {mirror})"):
        proc.run(["apt-get", *opts, "-q", "update"], hint="check the network and apt configuration",
                 timeout=APT_TIMEOUT)
    for m in (minor,) if minor else MINORS:
        shown = proc.run(["apt-cache", *opts, "showsrc", "--only-source", f"python{m}"],
                         check=False, echo=False, timeout=APT_TIMEOUT).stdout
        found_versions = set(re.findall(r"^Version: (\S+)", shown, re.M))
        versions = sorted((v for v in found_versions if _DEB_VERSION.match(v)), key=_debian_order)
        for version in reversed(versions):
            dest = paths.cache_dir("cpython-src", f"python{m}_{version}")
            found = _orig_tarballs(dest, m)
            if not found:
                with tempfile.TemporaryDirectory(dir=dest.parent, prefix=f".{dest.name}.dl-") as tmp:
                    got = proc.run(
                        ["apt-get", *opts, "--download-only", "source", f"python{m}={version}"],
                        cwd=Path(tmp), check=False, timeout=APT_TIMEOUT,
                    )
                    found = _orig_tarballs(Path(tmp), m)
                    if got.returncode != 0 or not found:
                        log.warn(f"python{m} {version} is listed but could not be downloaded; trying older")
                        continue
                    paths.atomic_copy(found[0], dest / found[0].name)
                found = [dest / found[0].name]
            return _from_tarball(found[0], f"apt source python{m}={version}")
    raise FetchError(f"no python{minor or '3.13/3.14'} source package in suites {', '.join(suites)}")


def cached_tarball(version: str) -> Path | None:
    """A CPython source tarball of ``version`` (e.g. ``3.13.15``) already in the cache, else one of the
    same minor version (the newest), else None; nothing is downloaded."""
    minor = ".".join(version.split(".")[:2])
    found = []
    for p in paths.cache_dir("cpython-src").glob("*/*.tar.*"):
        m = _TARBALL.search(p.name)
        if m and p.is_file() and ".".join(m.group(1).split(".")[:2]) == minor:
            found.append((m.group(1) == version, _debian_order(m.group(1)), p))
    return max(found)[2] if found else None


def resolve_source(local: str | None, minor: str | None) -> CPythonSource:
    minor = check_minor(minor)
    local = local or os.environ.get("LOCKSWAP_CPYTHON_SOURCE") or None
    if local:
        return _from_tarball(Path(local).expanduser().resolve(), "local tarball")
    errors = []
    for fetch in (_upstream, _apt):
        try:
            return fetch(minor)
        except FetchError as exc:
            log.info(f"CPython source: {exc.message}")
            errors.append(exc.message)
    raise FetchError(
        "cannot obtain CPython source: " + "; ".join(errors),
        "download a CPython 3.13/3.14 source tarball yourself and pass --cpython-source FILE "
        "(or LOCKSWAP_CPYTHON_SOURCE), or install python3.13t and pass --python",
    )


def _preflight() -> list[str]:
    """The C compiler (see :mod:`lockswap.toolchain`), and the headers CPython needs for pip."""
    cc = toolchain.require("CC")["CC"]
    missing = []
    for header, pkg in HEADERS.items():
        probe = proc.run([*cc, "-E", "-x", "c", "-"], input=f"#include <{header}>\n", check=False, echo=False)
        if probe.returncode != 0:
            missing.append((header, pkg))
    if missing:
        raise ToolMissing(
            "missing C headers CPython needs: " + ", ".join(h for h, _ in missing),
            "install them (Debian/Ubuntu: apt-get install " + " ".join(p for _, p in missing) + ")",
        )
    return cc


def build(local_source: str | None = None, minor: str | None = None, sanitizer: str | None = None) -> Path:
    """Build (or reuse) a free-threaded CPython; return its ``python3.Xt`` executable.

    With ``sanitizer`` (see :mod:`lockswap.sanitizer`) the build is instrumented and lives in its
    own cache folder (``python-tsan/``), never found by :func:`lockswap.interpreter.find` for
    ordinary runs; without it, the key and folder are the ordinary ones.
    """
    src = resolve_source(local_source, minor)
    short = ".".join(src.version.split(".")[:2])
    flags = CONFIGURE_FLAGS + san.cpython_configure_flags(sanitizer)
    key = paths.content_key(src.sha256, flags, RECIPE, *san.key_parts(sanitizer))
    final = paths.cache_dir(san.python_cache_folder(sanitizer)) / f"{src.version}t-{key}"
    exe = final / "bin" / f"python{short}t"
    if exe.is_file():
        return exe
    with locks.entry_lock(final):  # one build per key; a run that waited finds it built
        if not exe.is_file():
            _build_into(src, final, flags, key, sanitizer)
    return exe


def _build_into(src: CPythonSource, final: Path, flags: tuple[str, ...], key: str,
                sanitizer: str | None) -> None:
    short = ".".join(src.version.split(".")[:2])
    cc = _preflight()
    launcher = ["ccache"] if shutil.which("ccache") and "ccache" not in cc[0] else []
    env = {"CC": shlex.join([*launcher, *cc]),
           "CCACHE_DIR": str(paths.cache_dir("ccache")), "CCACHE_BASEDIR": str(paths.cache_root()),
           **san.cpython_build_env(sanitizer)}
    logf = paths.cache_dir("logs") / f"cpython-{src.version}t-{key}.log"
    logf.unlink(missing_ok=True)
    with paths.staging(final) as stage:
        work = stage.path
        what = f"free-threaded CPython {src.version}" + (f" ({san.LABEL[sanitizer]})" if sanitizer else "")
        with log.step(f"build {what} from {src.origin} (log: {logf})"):
            with tarfile.open(src.tarball) as tar:
                tar.extractall(work / "src", filter="data")
            (tree,) = (work / "src").iterdir()
            proc.run([tree / "configure", f"--prefix={final}", *flags],
                     cwd=tree, env=env, log_file=logf)
            proc.run(["make", f"-j{os.cpu_count() or 2}"], cwd=tree, env=env, log_file=logf)
            proc.run(["make", "install", f"DESTDIR={work / 'root'}", *san.cpython_install_args(sanitizer)],
                     cwd=tree, env=env, log_file=logf)
        staged = work / "root" / final.relative_to(final.anchor)
        check = proc.run([staged / "bin" / f"python{short}t", "-c", f"import {', '.join(REQUIRED_MODULES)}"],
                         env={"PYTHONHOME": str(staged), **san.cpython_build_env(sanitizer)},
                         check=False, echo=False)
        if check.returncode != 0:
            raise InterpreterError(
                f"the CPython build lacks a module pip or NumPy needs: {check.stdout.strip()[-300:]}",
                f"install the development packages ({' '.join(HEADERS.values())}) and run again",
            )
        san.after_cpython_build(sanitizer, tree, staged)
        san.write_marker(sanitizer, staged, src.version)
        stage.result = staged  # the installed prefix becomes the entry; sources and objects go
