"""``gazecam`` command line: one sub-command per module in :mod:`gazecam.commands`.

Each command module exposes ``HELP: str``, ``add_arguments(parser)`` and ``run(args) -> int`` and
must be cheap to import (no torch at import time).
"""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback

from .errors import GazecamError, one_line

COMMANDS = {
    "process": "gazecam.commands.process",
    "live": "gazecam.commands.live",
    "models": "gazecam.commands.models",
    "export": "gazecam.commands.export",
    "bench": "gazecam.commands.bench",
    "eval": "gazecam.commands.eval",
    "train": "gazecam.commands.train",
    "batch": "gazecam.commands.batch",
    "report": "gazecam.commands.report",
    "agree": "gazecam.commands.agree",
}

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(prog="gazecam", description="Real-time gaze following with Gaze-LLE.")
    parser.add_argument("--version", action="version", version=f"gazecam {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        # also after the command (`gazecam process x --debug`); SUPPRESS keeps a --debug given before it
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="show full tracebacks on errors")
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return EXIT_USAGE
    from .signals import interrupt_on_sigint

    try:
        with interrupt_on_sigint():  # also when started with SIGINT ignored (nohup, `cmd &` in a script)
            return int(args._run(args) or 0)
    except KeyboardInterrupt as e:  # a second Ctrl-C / SIGTERM (gazecam.signals.Interrupted), or one outside a run
        signum = getattr(e, "signum", None)
        print(f"gazecam: {e if signum is not None else 'interrupted'}", file=sys.stderr)
        return EXIT_INTERRUPTED if signum is None else 128 + signum
    except GazecamError as e:
        if args.debug:
            traceback.print_exc()
        from .commands.common import flag_wording

        print(f"gazecam {args.command}: error: {flag_wording(str(e))}", file=sys.stderr)
        return EXIT_ERROR
    except Exception as e:  # noqa: BLE001 - last resort: one line, traceback only with --debug
        if args.debug:
            traceback.print_exc()
        print(f"gazecam {args.command}: unexpected error: {one_line(e)}\n"
              "(run again with `gazecam --debug ...` for the full traceback)", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
