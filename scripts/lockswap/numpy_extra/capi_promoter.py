"""Promoters registered through NumPy's C API from Python, for ``stress_cases.py``.

``PyUFunc_AddPromoter`` (slot 44 of the ``_UFUNC_API`` capsule) reached with ctypes: the promoter
is a Python function, so it can run arbitrary code (calls of the same ufunc, ``gc.collect()``)
while NumPy resolves a loop, which is what a third-party promoter, ``common_dtype`` slot or legacy
type resolver may do. Runs INSIDE a variant's test venv (stdlib + NumPy only); imported by
``stress_cases.py`` from its own folder.
"""

from __future__ import annotations

import ctypes

import numpy as np

_KEEP: list[object] = []  # callbacks and capsules must outlive the ufuncs
PROMOTER = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p),
                            ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(ctypes.c_void_p))
ERRORS: list[str] = []


def dtype_class(code: str) -> type:
    return type(np.dtype(code))


def _add_promoter_fn():
    from numpy._core import _multiarray_umath as mu

    get = ctypes.pythonapi.PyCapsule_GetPointer
    get.restype, get.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
    table = ctypes.cast(get(mu._UFUNC_API, None), ctypes.POINTER(ctypes.c_void_p))
    # PyUFunc_AddPromoter is slot 44 of the ufunc C API (NumPy >= 2.0, numpy_api.py)
    return ctypes.PYFUNCTYPE(ctypes.c_int, ctypes.py_object, ctypes.py_object,
                             ctypes.py_object)(table[44])


def add_promoter(ufunc: np.ufunc, dtypes: tuple, body, result: str = "d") -> None:
    """Register a promoter for ``dtypes`` on ``ufunc`` that promotes every operand to ``result``
    and then runs ``body()`` (Python code, while NumPy is resolving that ufunc)."""
    target = dtype_class(result)

    def promoter(_ufunc, _op, _sig, new_op):
        for i in range(ufunc.nargs):
            ctypes.pythonapi.Py_IncRef(ctypes.py_object(target))
            new_op[i] = id(target)
        try:
            body()
        except BaseException as exc:
            ERRORS.append(repr(exc))
        return 0

    cb = PROMOTER(promoter)
    new = ctypes.pythonapi.PyCapsule_New
    new.restype, new.argtypes = ctypes.py_object, [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p]
    capsule = new(ctypes.cast(cb, ctypes.c_void_p), b"numpy._ufunc_promoter", None)
    _KEEP.extend((cb, capsule))
    _add_promoter_fn()(ufunc, dtypes, capsule)
