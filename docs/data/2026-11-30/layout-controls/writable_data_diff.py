"""Which words of NumPy's writable data (.data, .bss) the `scalar` bench kernel writes.

Run with a variant's venv python: prints every 8-byte word of _multiarray_umath's writable mappings
(the file-backed ones and the anonymous .bss tail after them) that changed over 2000 kernel
iterations, after 1000 warm-up ones. It printed no word for tlsimmortal on 2026-11-30: no NumPy
global is written on that path.
"""

from __future__ import annotations

import ctypes
import sys

import numpy as np
from numpy._core import _multiarray_umath

SO = _multiarray_umath.__file__


def writable_regions() -> list[tuple[int, int]]:
    with open("/proc/self/maps") as f:
        maps = [line.split() for line in f]
    regions = []
    for k, fields in enumerate(maps):
        if fields[-1] == SO and fields[1].startswith("rw"):
            lo, hi = (int(x, 16) for x in fields[0].split("-"))
            regions.append((lo, hi))
            after = maps[k + 1]
            if len(after) == 5 and after[1].startswith("rw"):  # anonymous: the rest of .bss
                lo, hi = (int(x, 16) for x in after[0].split("-"))
                regions.append((lo, hi))
    return regions


def kernel(n: int) -> None:
    a, b = np.float64(1.5), np.float64(0.5)
    add, mul, sub, div = np.add, np.multiply, np.subtract, np.true_divide
    for _ in range(n):
        add(a, b)
        mul(a, b)
        sub(a, b)
        div(a, b)


def main() -> int:
    regions = writable_regions()
    kernel(1000)
    before = [ctypes.string_at(lo, hi - lo) for lo, hi in regions]
    kernel(2000)
    after = [ctypes.string_at(lo, hi - lo) for lo, hi in regions]
    changed = 0
    for (lo, hi), x, y in zip(regions, before, after, strict=True):
        for i in range(0, hi - lo, 8):
            if x[i:i + 8] != y[i:i + 8]:
                changed += 1
                print(f"{lo + i:#x}: {int.from_bytes(x[i:i + 8], 'little')} -> "
                      f"{int.from_bytes(y[i:i + 8], 'little')}")
    print(f"{changed} changed words in {sum(hi - lo for lo, hi in regions)} bytes of {SO}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
