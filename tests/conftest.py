from __future__ import annotations

import pytest


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty lockswap cache, dist and results folder for one test."""
    monkeypatch.setenv("LOCKSWAP_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("LOCKSWAP_DIST", str(tmp_path / "dist"))
    monkeypatch.setenv("LOCKSWAP_RESULTS", str(tmp_path / "results"))
    return tmp_path / "cache"
