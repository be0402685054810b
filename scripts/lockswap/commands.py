"""What a command module hands the entry point: name, help, its arguments and the function to run.

The entry point (:mod:`lockswap.cli`) imports every command module explicitly and reads their
``COMMANDS``; command modules never import the entry point.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    add_args: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
