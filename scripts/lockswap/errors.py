"""The one error type of lockswap: a message plus what to do next.

Raised anywhere, caught only at the entry point (``lockswap.cli.main``), which prints it and exits 2.
"""

from __future__ import annotations


class LockswapError(Exception):
    """An error the user can act on. ``hint`` says what to do next."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  -> {self.hint}" if self.hint else self.message


class ConfigError(LockswapError):
    """Bad input: unknown variant or version, malformed spec or manifest."""


class InterpreterError(LockswapError):
    """No usable free-threaded interpreter."""


class FetchError(LockswapError):
    """NumPy or CPython source could not be obtained."""


class PatchError(LockswapError):
    """A patch does not apply."""


class BuildError(LockswapError):
    """A build or a post-build check failed."""


class CommandError(LockswapError):
    """A subprocess failed; ``output_tail`` holds the end of what it printed."""

    def __init__(self, message: str, hint: str = "", output_tail: str = "") -> None:
        super().__init__(message, hint)
        self.output_tail = output_tail

    def __str__(self) -> str:
        base = super().__str__()
        if self.output_tail:
            return f"{base}\n--- last lines of output ---\n{self.output_tail}"
        return base
