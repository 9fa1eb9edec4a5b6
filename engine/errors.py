"""Errors as values: every user-facing problem is a `Problem` with file, line and field.

The CLI turns these into messages and exit codes; nothing below the CLI prints.
"""

from __future__ import annotations

from dataclasses import field

from .records import record


@record(order=True)
class Problem:
    """One thing wrong with one input, located as precisely as we can."""

    file: str
    line: int | None
    field: str | None
    message: str
    hint: str | None = None

    def render(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        what = f"{self.field}: {self.message}" if self.field else self.message
        text = f"{where}: {what}"
        if self.hint:
            text += f" ({self.hint})"
        return text


class SignalwiseError(Exception):
    """Base class for errors the CLI reports without a traceback."""

    exit_code = 1


@record(frozen=False)
class InputError(SignalwiseError):
    """Invalid user input (profile, shortlist, policy, options). Exit code 2."""

    problems: list[Problem] = field(default_factory=list)
    exit_code = 2

    def __post_init__(self) -> None:
        super().__init__(self.render())

    def render(self) -> str:
        return "\n".join(p.render() for p in sorted(self.problems, key=_problem_key))


def _problem_key(p: Problem) -> tuple[str, int, str, str]:
    return (p.file, p.line or 0, p.field or "", p.message)


class PolicyError(InputError):
    """A policy file is invalid (schema or semantic check)."""


class EngineError(SignalwiseError):
    """A policy misbehaved while being evaluated (action failed, runaway chaining, engine fault).

    Exit code 3: the inputs were valid, but the rules could not produce a trustworthy plan.
    """

    exit_code = 3


def input_error(file: str, message: str, *, line: int | None = None, field: str | None = None,
                hint: str | None = None) -> InputError:
    """Shorthand for a one-problem `InputError`."""
    return InputError([Problem(file, line, field, message, hint)])
