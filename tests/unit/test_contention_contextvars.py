"""The contention finder's ContextVar discovery roots: every live ContextVar and its value are
candidates, ``_contextvar(name)`` finds one again (refusing none or several), and ``measure`` locates
every object before it makes any immortal."""

from __future__ import annotations

import contextvars
import gc
import sys
import types

import pytest

from lockswap.contention import candidates, probe

np = pytest.importorskip("numpy")


def test_contextvar_roots_reach_a_value_held_only_by_a_contextvar(monkeypatch):
    # the shape of NumPy's "current_allocator": a ContextVar whose default is reachable from no
    # Python name (the capsule); the var itself is found through gc.get_objects() (tracked: its
    # default is a tracked object)
    default = [object()]
    var = contextvars.ContextVar("lockswap_test_allocator", default=default)
    del default
    roots, ambiguous = candidates.contextvar_roots()
    assert "lockswap_test_allocator" not in ambiguous
    locs = dict(roots)
    loc = "_contextvar('lockswap_test_allocator')"
    assert loc in locs and f"{loc}.get()" in locs
    found = candidates.collect(roots, {}, depth=1)
    assert any(e["obj"] is var for e in found.values())
    value = next(e for e in found.values() if e["obj"] is var.get())
    assert candidates.locate(value["locator"], {}) is var.get()


def test_contextvar_roots_take_the_current_value_and_find_untracked_vars_on_modules(monkeypatch):
    mod = types.ModuleType("lockswap_fake_ctx_mod")
    mod.plain = contextvars.ContextVar("lockswap_test_untracked")  # str name, no default: not GC-tracked
    mod.unset = contextvars.ContextVar("lockswap_test_unset")
    monkeypatch.setitem(sys.modules, mod.__name__, mod)
    assert not any(o is mod.plain for o in gc.get_objects())
    current = 1234.5  # an untracked value, set in this context
    token = mod.plain.set(current)
    try:
        locs = dict(candidates.contextvar_roots()[0])
        assert candidates.locate("_contextvar('lockswap_test_untracked').get()", {}) is current
    finally:
        mod.plain.reset(token)
    assert "_contextvar('lockswap_test_untracked').get()" in locs
    assert "_contextvar('lockswap_test_unset')" in locs  # the var, but no value: it has none
    assert "_contextvar('lockswap_test_unset').get()" not in locs


def test_contextvar_locator_refuses_none_or_several_of_a_name(monkeypatch):
    with pytest.raises(LookupError, match="0 live ContextVars"):
        candidates._contextvar("lockswap_test_no_such_var")
    mod = types.ModuleType("lockswap_fake_twins_mod")
    mod.one, mod.two = (contextvars.ContextVar("lockswap_test_twin", default=None) for _ in range(2))
    monkeypatch.setitem(sys.modules, mod.__name__, mod)
    with pytest.raises(LookupError, match="2 live ContextVars"):
        candidates.locate("_contextvar('lockswap_test_twin')", {})
    roots, ambiguous = candidates.contextvar_roots()
    assert "lockswap_test_twin" in ambiguous
    assert not any("lockswap_test_twin" in loc for loc, _ in roots)


def test_measure_locates_every_object_before_making_any_immortal(monkeypatch):
    # immortalising untracks an object from the GC, so a later gc.get_objects() locator must not
    # run after an earlier object was immortalised
    order = []
    monkeypatch.setattr(probe.cand, "locate", lambda loc, ns: order.append(("locate", loc)) or object())
    monkeypatch.setattr(probe, "immortalize", lambda obj: order.append(("immortalize", None)))
    monkeypatch.setattr(probe, "setup_namespace", lambda spec, iterations: {})
    monkeypatch.setattr(probe, "emit", lambda event: None)
    spec = {"iterations": 1, "immortalize": ["x", "y"], "workers": []}
    probe.measure(spec, None)
    assert [k for k, _ in order] == ["locate", "locate", "immortalize", "immortalize"]
