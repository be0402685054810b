"""The command line resolved once: targets checked before any work, the interpreter found once."""

from __future__ import annotations

import argparse

import pytest

from lockswap import cli
from lockswap.base import manifest
from lockswap.base.errors import ConfigError
from lockswap.build import pipeline as request
from lockswap.commands import options
from lockswap.interpreter import find as interpreter
from lockswap.patch import port


def args(*argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    options.add_python_args(p)
    options.add_numpy_arg(p)
    p.add_argument("--variants")
    return p.parse_args(list(argv))


def test_targets_carry_variant_version_and_patch():
    m = manifest.default()
    req = options.from_args(args("--numpy", "2.1.3"), variants_text="baseline,rwlock")
    assert req.numpy == "2.1.3" and [t.label for t in req.targets] == ["baseline", "rwlock"]
    base, rw = req.targets
    assert base.patch is None and base.numpy_version == "2.1.3"
    assert rw.patch == m.patch_for("rwlock", "2.1.3") and rw.patch is not None
    default = options.from_args(args())
    assert default.numpy == m.default_numpy
    assert [t.variant for t in default.targets] == m.variants_for(m.default_numpy)


def test_no_patch_means_a_port_decided_once_for_every_command(capsys):
    m = manifest.default()
    missing = [(n, v) for n in m.variants for v in m.numpy if v not in m.versions_for(n)]
    if not missing:
        pytest.skip("every variant has a patch for every NumPy version of the manifest")
    name, version = missing[0]
    t = request.target(m, name, version)
    assert t.port_from == port.choose_base(m, name, version) and t.patch == m.patch_for(name, t.port_from)
    with pytest.raises(ConfigError) as err:
        request.target(m, name, version, port_from="9.9.9")
    message = err.value.message
    assert message == f"--port-from 9.9.9: variant {name!r} has no patch for NumPy 9.9.9"
    for argv in (["build", "--variant", name, "--numpy", version],
                 ["test", "--variant", name, "--numpy", version],
                 ["test-all", "--variants", name, "--numpy", version],
                 ["bench", "--variants", name, "--numpy", version],
                 ["port", "--variant", name, "--numpy", version]):
        assert cli.main([*argv, "--port-from", "9.9.9"]) == 2, argv
        assert message in capsys.readouterr().err, argv


def test_the_interpreter_is_found_once_per_request(monkeypatch):
    calls = []
    monkeypatch.setattr(interpreter, "find", lambda *a, **k: calls.append(a) or "the interpreter")
    req = options.from_args(args("--python", "/x/python3.13t"), ["baseline"])
    assert req.interpreter == req.interpreter == "the interpreter"
    assert calls == [("/x/python3.13t",)]
