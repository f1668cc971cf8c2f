"""Entry point of the ``thermogap`` command: a click group whose subcommands live in modules.

Every :class:`~thermogap.errors.ThermogapError` (bad input, bad config, unreachable store) ends
the program with one line on stderr and exit code 1; set ``THERMOGAP_DEBUG=1`` for tracebacks.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
import warnings

import click

from thermogap import __version__
from thermogap.errors import ThermogapError

# subcommand name -> module exposing `command`; imported only when that command is used
_COMMAND_MODULES = {
    "demo": "thermogap.cli.run",
    "run": "thermogap.cli.run",
    "status": "thermogap.cli.status",
    "query": "thermogap.cli.query",
    "db": "thermogap.cli.db",
    "enumerate": "thermogap.cli.enumerate",
    "build": "thermogap.cli.build",
    "presets": "thermogap.cli.presets",
    "jobs": "thermogap.cli.jobs",
    "job": "thermogap.cli.jobs",
    "export": "thermogap.cli.export",
    "plots": "thermogap.cli.plots",
}


class LazyGroup(click.Group):
    """A click group that imports a subcommand's module only when it is invoked."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Return the names of all subcommands."""
        return sorted(_COMMAND_MODULES)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """Import and return the subcommand ``cmd_name`` (``None`` if unknown)."""
        module_name = _COMMAND_MODULES.get(cmd_name)
        if module_name is None:
            return None
        module = importlib.import_module(module_name)
        return getattr(module, f"{cmd_name}_command", None) or module.command


@click.group(cls=LazyGroup)
@click.version_option(__version__, prog_name="thermogap")
@click.option("-v", "--verbose", is_flag=True, help="Show jobflow's log lines.")
def cli(verbose: bool) -> None:
    """thermogap: finite-temperature band gaps and phonons of disordered semiconductors."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(message)s")
    if not verbose:
        logging.getLogger("jobflow").setLevel(logging.WARNING)
        warnings.filterwarnings("ignore")


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the exit code (0 success, 1 domain error, 2 usage error)."""
    try:
        code = cli.main(args=argv, prog_name="thermogap", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("thermogap: aborted", err=True)
        return 130
    except ThermogapError as exc:
        if os.environ.get("THERMOGAP_DEBUG"):
            raise
        from thermogap.store.config import redact_credentials

        click.echo(f"thermogap: error: {redact_credentials(str(exc))}", err=True)
        return 1
    except KeyboardInterrupt:
        click.echo("thermogap: interrupted; finished jobs are kept and reused next time", err=True)
        return 130
    except Exception as exc:  # backend errors (pymongo, OS) become one line too
        from thermogap.cli.common import backend_error_message

        message = backend_error_message(exc)
        if message is None or os.environ.get("THERMOGAP_DEBUG"):
            raise
        click.echo(f"thermogap: error: {message}", err=True)
        return 1
    # with standalone_mode=False click returns a command's exit code instead of exiting
    return code if isinstance(code, int) and not isinstance(code, bool) else 0


if __name__ == "__main__":
    sys.exit(main())
