"""What every stage script shares: argument parsing, logging, and errors as messages, not tracebacks."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable

from pipeline import params as params_module

log = logging.getLogger("pipeline")
EXIT_BAD_INPUT, EXIT_INTERRUPTED = 2, 130


def parser(description: str, approach: bool = False) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--params", default=str(params_module.DEFAULT_PARAMS),
                   help="parameters file (default: %(default)s)")
    if approach:
        p.add_argument("--approach", required=True, help="approach name, a key of `approaches` in params.yaml")
    p.add_argument("--quiet", action="store_true", help="no progress bars, warnings only")
    return p


def run(main: Callable[[argparse.Namespace, dict], None], args: argparse.Namespace) -> None:
    """Load params, run ``main`` and turn expected failures into a one-line message and exit code 2."""
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        params = params_module.load(args.params)
        if getattr(args, "approach", None) is not None:
            params_module.approach(params, args.approach)
        main(args, params)
    except KeyboardInterrupt:
        log.error("interrupted; no output was replaced")
        sys.exit(EXIT_INTERRUPTED)
    except (ValueError, FileNotFoundError, RuntimeError) as exc:
        log.error("%s", exc)
        sys.exit(EXIT_BAD_INPUT)
