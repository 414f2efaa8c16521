"""The ``mtbench`` command: parses flags, builds a config, calls one library function.

Each subcommand lives in its own module here with ``register(subparsers)``; heavy libraries (torch,
ray, pandas) are imported inside the command's ``run`` so ``mtbench --help`` stays instant.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from typing import NoReturn

from mtbench import __version__
from mtbench.cli.options import add_command_options
from mtbench.core.errors import RunFailed, UserError
from mtbench.core.options import ConfigError

# Subcommand modules, in the order --help lists them.
COMMANDS = ("run", "download", "gen_answer", "gen_api_answer", "judge", "check_judge", "validate_judge", "show", "bias",
            "agreement", "browse", "report", "export", "repair")


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (which flag, what is wrong) and exit code 2, and no flag
    is taken by a prefix of its name (with dozens of flags, a prefix silently becomes another flag)."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser(command: str | None = None) -> Parser:
    """The parser of every command; the options of ``command`` alone (all of them where None).

    A command's options are generated from its config classes, which import the command's library;
    building only the one typed keeps ``mtbench COMMAND`` from importing every other command's.
    """
    parser = Parser(
        prog="mtbench",
        description="MT-bench end to end: download the data, generate answers, judge them, show the scores.",
    )
    parser.add_argument("--version", action="version", version=f"mtbench {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for name in COMMANDS:
        module = importlib.import_module(f"mtbench.cli.{name}")
        command_parser = module.register(sub)
        if command in (None, command_parser.prog.split()[-1]):
            if hasattr(module, "CONFIG"):
                add_command_options(command_parser, module.CONFIG)
            else:
                module.add_options(command_parser)  # run: its steps' configs together
    return parser


def typed_command(argv: list[str]) -> str | None:
    """The command's name in ``argv``: the first word that is not a flag (the top level takes no values)."""
    return next((word for word in argv if not word.startswith("-")), None)


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a record is logged, not the one at set-up: ``main()``
    called again in one process (the tests do) logs to that call's stderr."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


def _log_to_stderr(verbose: bool) -> None:
    # Not logging.basicConfig: it configures once per process and does nothing when the root logger already
    # has a handler, so a second main() (or one under a test runner) would lose its messages or format.
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _StderrHandler)]:
        root.removeHandler(handler)
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter(
        "mtbench: %(levelname)s: %(message)s" if verbose else "mtbench: %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(typed_command(argv) or "")
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help(sys.stderr)
        return 2
    _log_to_stderr(args.verbose)
    for noisy in ("httpx", "httpx2", "httpcore", "openai", "urllib3", "filelock"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        return int(args.run(args) or 0)
    except ConfigError as e:
        print(f"mtbench {args.command}: error: {args.flag_map.render(e)}", file=sys.stderr)
        return e.exit_code
    except (UserError, RunFailed) as e:
        print(f"mtbench {args.command}: error: {e}", file=sys.stderr)
        return e.exit_code
    except OSError as e:
        # A full disk, a folder that went read-only mid-run: one line naming the path, never a traceback.
        where = f"{e.filename}: " if e.filename else ""
        print(f"mtbench {args.command}: error: {where}{e.strerror or e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"mtbench {args.command}: interrupted; rerun the same command to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
