"""Command line of the embedded AWS: ``python -m cardshare_local demo|serve``."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    """Parse the command and run it."""
    parser = argparse.ArgumentParser(prog="cardshare_local", description="cardshare on the embedded AWS")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="play the card lifecycle through the real template, workflow and handlers")
    demo.add_argument("--verbose", action="store_true", help="echo the Lambda function's log lines")
    serve = commands.add_parser("serve", help="run the embedded AWS on 127.0.0.1 with cardshare deployed")
    serve.add_argument("--port", type=int, default=5000, help="port on 127.0.0.1 to serve on (default: 5000)")
    args = parser.parse_args(argv)
    if args.command == "demo":
        from cardshare_local.demo import main as run_demo

        return run_demo(verbose=args.verbose)
    from cardshare_local.server import main as serve_main

    return serve_main(args.port)


if __name__ == "__main__":
    sys.exit(main())
