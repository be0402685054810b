from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).parents[2]


def test_ci_runs_the_readme_test_command():
    readme = (REPO / "README.md").read_text()
    commands = re.findall(r"```bash\n(.+?)\n```", readme)
    assert len(commands) >= 2, commands  # the main command and the test command
    test_command = next(c for c in commands if c.endswith("nox -s tests"))
    assert test_command in (REPO / ".ci" / "run").read_text().splitlines()


def test_readme_sessions_exist():
    readme = (REPO / "README.md").read_text()
    noxfile = (REPO / "noxfile.py").read_text()
    sessions = re.findall(r"^\| `([a-z-]+)[ `]", readme, re.M)
    assert len(sessions) >= 10, sessions  # the table was found (a reworded table must not pass empty)
    for session in sessions:
        generated = session.endswith("-<variant>") or session.split("-")[0] in ("build", "test")
        assert generated or f"def {session.replace('-', '_')}(" in noxfile, session
