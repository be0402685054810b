"""The one error type of lockswap: a message plus what to do next, and an exit code per failure class.

Raised anywhere, caught only at the entry point (``lockswap.cli.main``), which prints it and exits
with the class's code:

- 0: success
- 1 (:data:`EXIT_VERDICT`): the run worked and its verdict is negative: new test failures or a crash
  compared with baseline (``test``, ``test-all``), a patch that does not apply (``patches``)
- 2 (:data:`EXIT_INPUT`): bad input: unknown variant or version, no patch for that version, malformed
  spec, option or manifest, an unreadable results file
- 3 (:data:`EXIT_BUILD`): a build or fetch failed: download, patch, compile, wheel check, a failing
  subprocess
- 4 (:data:`EXIT_TOOL`): a tool is missing: no free-threaded interpreter, no C compiler, a command
  not found
- 130 (:data:`EXIT_INTERRUPTED`): Ctrl-C (nothing half-written is left in the cache)
"""

from __future__ import annotations

EXIT_VERDICT = 1
EXIT_INPUT = 2
EXIT_BUILD = 3
EXIT_TOOL = 4
EXIT_INTERRUPTED = 130


class LockswapError(Exception):
    """An error the user can act on. ``hint`` says what to do next."""

    exit_code = EXIT_INPUT

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  -> {self.hint}" if self.hint else self.message


class ConfigError(LockswapError):
    """Bad input: unknown variant or version, malformed spec or manifest."""

    exit_code = EXIT_INPUT


class ToolMissing(LockswapError):
    """A program lockswap needs is not installed (a compiler, a command)."""

    exit_code = EXIT_TOOL


class InterpreterError(ToolMissing):
    """No usable free-threaded interpreter."""


class BadInterpreter(InterpreterError):
    """The interpreter given (``--python``, ``LOCKSWAP_PYTHON``) is not a usable free-threaded one."""

    exit_code = EXIT_INPUT


class FetchError(LockswapError):
    """NumPy or CPython source could not be obtained."""

    exit_code = EXIT_BUILD


class PatchError(LockswapError):
    """A patch does not apply."""

    exit_code = EXIT_BUILD


class BuildError(LockswapError):
    """A build or a post-build check failed."""

    exit_code = EXIT_BUILD


class CommandError(LockswapError):
    """A subprocess failed; ``output_tail`` holds the end of what it printed."""

    exit_code = EXIT_BUILD

    def __init__(self, message: str, hint: str = "", output_tail: str = "") -> None:
        super().__init__(message, hint)
        self.output_tail = output_tail

    def __str__(self) -> str:
        base = super().__str__()
        if self.output_tail:
            return f"{base}\n--- last lines of output ---\n{self.output_tail}"
        return base


class CommandNotFound(CommandError, ToolMissing):
    """The program of a subprocess is not installed."""

    exit_code = EXIT_TOOL
