"""Helpers shared by the stress cases (``stress_cases.py`` and its sibling modules).

Runs INSIDE a variant's test venv (stdlib + NumPy only); imported from this folder (the cases run by
path, so their folder is on ``sys.path``).
"""

from __future__ import annotations

import os
import random
import threading

import numpy as np

# a case that has not finished after WATCHDOG seconds is a hang (generous: 2 shared cores under load)
WATCHDOG = float(os.environ.get("LOCKSWAP_STRESS_WATCHDOG", "300"))
THREADS = int(os.environ.get("LOCKSWAP_STRESS_THREADS", "8"))
CODES = "?bBhHiIlLqQefdFD"
NUMERIC = "bBhHiIlLqQefdFD"
BINARY = ("add", "subtract", "multiply", "true_divide", "maximum", "minimum", "power", "arctan2",
          "hypot", "greater", "equal", "logical_and", "bitwise_and", "floor_divide", "fmod",
          "copysign", "nextafter", "logaddexp", "heaviside", "fmax")


class CaseFailed(Exception):
    pass


def check(cond: bool, what: str) -> None:
    if not cond:
        raise CaseFailed(what)


def arr(code: str, n: int = 3) -> np.ndarray:
    return np.ones(n, dtype=code)


def seconds(name: str, default: float) -> float:
    """A bound in seconds, overridable by the environment variable ``name``."""
    return float(os.environ.get(name, str(default)))


def outcome(uf, a, b):
    try:
        r = uf(a, b)
    except Exception as exc:  # invalid combinations: the error is the outcome
        return ("exc", type(exc).__name__)
    return ("ok", r.dtype.str, r.tobytes())


def combos(seed: int):
    got = [(u, a, b) for u in BINARY for a in CODES for b in CODES]
    random.Random(seed).shuffle(got)
    return got


def checked(name: str, a: str, b: str) -> None:
    """``np.add`` or ``np.multiply`` on ones of a dtype pair: the result's dtype must be NumPy's
    promotion of the pair (``np.result_type`` never touches a ufunc's dispatch cache)."""
    got = getattr(np, name)(arr(a), arr(b))
    want = np.result_type(np.dtype(a), np.dtype(b))
    value = {"add": 2, "multiply": 1}[name]
    check(got.dtype == want and got[0] == value, f"np.{name}({a!r}, {b!r}): {got!r}, expected {want}")


def run_threads(n: int, target) -> None:
    barrier = threading.Barrier(n)
    errors: list[str] = []

    def wrapped(i):
        try:
            barrier.wait(timeout=WATCHDOG / 2)
            target(i)
        except BaseException as exc:
            errors.append(f"thread {i}: {exc!r}")

    ts = [threading.Thread(target=wrapped, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    check(not errors, "; ".join(errors[:5]))
