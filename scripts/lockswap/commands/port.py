"""``lockswap port``: port a variant's patch to a NumPy version it has none for, for a person to review.

Writes ``patches/<version>/<variant>.patch`` (DEP-3 header with ``Ported-From``) and its manifest
entry. With ``--resolved DIR`` the patch is made from a tree whose conflicts a person resolved (the
conflicted tree a port printed), instead of from a clean merge.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..base import log, manifest
from ..base.errors import ConfigError
from ..build import pipeline
from ..patch import port, port_manifest
from ..patch.apply import patch_sha256
from ..source import fetch as source
from . import options

NAME = "port"
HELP = "port a variant's patch to a NumPy version without one; write it and its manifest entry"


def add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--variant", required=True, help="variant name from patches/manifest.toml")
    options.add_numpy_arg(p)
    options.add_port_arg(p)
    p.add_argument("--resolved", metavar="DIR", default=None,
                   help="make the patch from this tree (a port's conflicted tree, resolved by hand)")


def run(args: argparse.Namespace) -> int:
    m = manifest.default()
    if m.variant(args.variant).is_baseline:
        raise ConfigError("baseline has no patch to port", "name a patched variant: --variant rwlock")
    spec = pipeline.numpy_spec(args.numpy, m)
    t = pipeline.target(m, args.variant, spec, port_from=args.port_from)  # a release: decided before fetching
    if t.numpy_version is None or t.port_from is not None:
        with log.step(f"NumPy source {spec}"):
            src = source.fetch(spec)
        t = pipeline.pinned(m, t, src.version, args.port_from)
    if t.port_from is None or t.patch is None:
        raise ConfigError(f"{args.variant!r} already has a patch for NumPy {t.numpy_version} "
                          f"({t.patch}); nothing to port", "pass --numpy with a version it has no patch for")
    if args.resolved:
        with log.step(f"NumPy source {t.port_from} (merge base)"):
            base = source.fetch(t.port_from)
        text = port.from_resolved(src, t.variant, base, t.patch, Path(args.resolved).expanduser().resolve())
    else:
        text = pipeline.port_target(t, src).patch.read_text(encoding="utf-8")
    patch, where = port_manifest.write(m, t.variant, src.version, t.port_from, text)
    log.info(f"wrote {patch} (sha256 {patch_sha256(patch)[:12]}, ported from NumPy {t.port_from}) and its "
             f"entry in {where}")
    log.info("-> review both (git diff), check them with `nox -s patches`, build with "
             f"`nox -s build-{t.variant} -- --numpy {spec}`, then commit")
    print(patch)
    return 0
