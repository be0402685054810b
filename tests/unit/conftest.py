from __future__ import annotations

import pytest

from lockswap.base.manifest import default


@pytest.fixture(autouse=True)
def _unit_isolation(monkeypatch):
    """Unit tests never see the user's interpreter choice or a real index."""
    monkeypatch.delenv("LOCKSWAP_PYTHON", raising=False)
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/unreachable-in-unit-tests/")
    default.cache_clear()
    yield
    default.cache_clear()
