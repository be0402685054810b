"""Wheel file helpers: the variant's local version label, and checking a wheel's tag."""

from __future__ import annotations

import base64
import hashlib
import re
import zipfile
from pathlib import Path

from packaging.utils import parse_wheel_filename
from packaging.version import Version

from ..base import paths
from ..base.errors import BuildError


def labelled_version(version: str, variant: str) -> str:
    """``2.1.3`` + ``rwlock`` -> ``2.1.3+lockswap.rwlock`` (an existing local label is kept)."""
    v = Version(version)
    local = f"{v.local}.lockswap.{variant}" if v.local else f"lockswap.{variant}"
    return f"{v.public}+{local}"


def abi_tags(wheel: Path) -> set[str]:
    _, _, _, tags = parse_wheel_filename(wheel.name)
    return {t.abi for t in tags}


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest}"


def relabel(wheel: Path, new_version: str, dest_dir: Path) -> Path:
    """Write a copy of ``wheel`` whose version is ``new_version`` (metadata, dist-info, RECORD).

    Only the packaging metadata changes: the package's own files (and ``numpy.__version__``)
    are untouched, so NumPy's tests see the version NumPy was released as.
    """
    name, old_version, build_tag, _ = parse_wheel_filename(wheel.name)
    old_prefix = f"{wheel.name.split('-')[0]}-{wheel.name.split('-')[1]}.dist-info/"
    new_ver_fs = str(Version(new_version)).replace("-", "_")
    new_prefix = f"{wheel.name.split('-')[0]}-{new_ver_fs}.dist-info/"
    rest = wheel.name.split("-", 2)[2]
    target = dest_dir / f"{wheel.name.split('-')[0]}-{new_ver_fs}-{rest}"
    if build_tag:
        raise BuildError(f"{wheel.name} has a build tag; lockswap does not expect one", "")
    with (
        paths.atomic_output(target) as tmp,
        zipfile.ZipFile(wheel) as zin,
        zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zout,
    ):
        records: list[str] = []
        for info in zin.infolist():
            data = zin.read(info)
            arcname = info.filename
            if arcname.startswith(old_prefix):
                arcname = new_prefix + arcname[len(old_prefix):]
                if arcname.endswith("/METADATA"):
                    data = re.sub(
                        rb"^Version: .*$", f"Version: {new_version}".encode(), data,
                        count=1, flags=re.M,
                    )
                if arcname.endswith("/RECORD"):
                    continue
            new_info = zipfile.ZipInfo(arcname, date_time=info.date_time)
            new_info.external_attr = info.external_attr
            new_info.compress_type = zipfile.ZIP_DEFLATED
            zout.writestr(new_info, data)
            records.append(f"{arcname},{_record_hash(data)},{len(data)}")
        records.append(f"{new_prefix}RECORD,,")
        zout.writestr(new_prefix + "RECORD", "\n".join(records) + "\n")
    del name, old_version
    return target
