"""The `signalwise` command: Click parsing, calling the engine, choosing a renderer, exit codes.

Exit codes: 0 success; 2 invalid input (profile, shortlist, policy, options); 3 a policy misbehaved at
run time (action failure, runaway chaining); 1 an unexpected internal error (a bug: please report it).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

import click

from .output import echo

# name -> (module, attribute), in the order `--help` lists them. A command's module is imported when the
# command is run or listed, so `signalwise evaluate` does not import every other command (cold start-up).
_COMMANDS = {
    "evaluate": ("evaluate_cmd", "evaluate_command"),
    "policy": ("policy_cmd", "policy_group"),
    "schema": ("policy_cmd", "schema_group"),
    "track": ("track_cmd", "track_command"),
    "batch": ("batch_cmd", "batch_command"),
    "explain": ("explain_cmd", "explain_command"),
    "cache": ("cache_cmd", "cache_group"),
    "compare": ("compare_cmd", "compare_command"),
    "init": ("init_cmd", "init_command"),
}


class _Group(click.Group):
    """Turn our errors into clean messages and exit codes; never print a traceback for user mistakes."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*_COMMANDS, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        # An unknown name loads every command, so Click's "did you mean" sees them all.
        for name in [cmd_name] if cmd_name in _COMMANDS else list(_COMMANDS):
            if name not in self.commands:
                module, attr = _COMMANDS[name]
                command: click.Command = getattr(__import__(f"signalwise.cli.{module}", fromlist=[attr]), attr)
                self.add_command(command, name)
        return self.commands.get(cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        from signalwise.engine.errors import SignalwiseError

        try:
            return super().invoke(ctx)
        except SignalwiseError as exc:
            echo(f"error: {exc}" if "\n" not in str(exc) else f"error:\n{exc}", err=True)
            ctx.exit(exc.exit_code)
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort, BrokenPipeError):
            raise
        except OSError as exc:
            if exc.filename is None:  # not about a file the user named: treat as a bug below
                return _internal_error(ctx, exc)
            # A file or folder that cannot be read or written: the user's to fix, like any invalid input.
            where = exc.filename if exc.filename2 is None else f"{exc.filename} -> {exc.filename2}"
            echo(f"error: {where}: {exc.strerror or exc}", err=True)
            ctx.exit(2)
        except Exception as exc:  # a bug, not a user mistake: short message, details on request
            return _internal_error(ctx, exc)


def _internal_error(ctx: click.Context, exc: Exception) -> Any:
    if os.environ.get("SIGNALWISE_DEBUG"):
        raise exc
    message = str(exc)
    message = message if len(message) <= 300 else message[:299] + "…"
    echo(f"internal error: {type(exc).__name__}: {message}\n"
         "This is a bug in signalwise. Rerun with SIGNALWISE_DEBUG=1 for details and report it.", err=True)
    ctx.exit(1)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option("0.1.0", prog_name="signalwise")
def cli() -> None:
    """Explained residency preference-signal plans from versioned policy files."""




def main(argv: list[str] | None = None) -> None:
    entry: Callable[..., Any] = cli
    try:
        entry(args=argv, prog_name="signalwise")
    except SystemExit:  # click ends every command so, successful or not
        if argv is None:
            _before_exit()
        raise
    except KeyboardInterrupt:
        echo("interrupted", err=True)
        sys.exit(130)
    except BrokenPipeError:  # e.g. `signalwise ... | head`: the reader left; say nothing more
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(1)


def _before_exit() -> None:
    """The process (the `signalwise` command, not a caller of `main(argv)`) ends next. The interpreter's
    shutdown runs the cyclic collector once more over everything the command built; freezing the heap
    first skips that pass (about a tenth of a cold evaluate of 200 programs), which could only find
    garbage the operating system is about to reclaim anyway."""
    import gc

    gc.freeze()
