"""``python -m bench [--cards 100,1000,10000] [--burst 200] [--quick]``: measure, print one table, save JSON."""

from __future__ import annotations

import argparse
import os
import platform
import sys
from datetime import UTC, datetime
from typing import Any

from bench import calls

# Before anything creates a botocore session: every session from now on is counted.
calls.install()

from bench.burst import run_burst  # noqa: E402
from bench.executions import MODES, run_budget, run_kinds  # noqa: E402
from bench.footprint import cold_imports, layer_size  # noqa: E402
from bench.reconciler_scale import run_scale  # noqa: E402
from bench.report import show, write  # noqa: E402


def _sizes(text: str) -> list[int]:
    return [int(part.replace("_", "")) for part in text.split(",") if part.strip()]


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; return the exit status."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--cards", type=_sizes, default=[100, 1000, 10000], help="fleet sizes for the reconciler")
    parser.add_argument("--burst", type=int, default=200, help="cards in the approval burst")
    parser.add_argument("--quick", action="store_true", help="100 cards, a burst of 20, 2 imports per function")
    args = parser.parse_args(argv)
    if args.quick:
        args.cards, args.burst = [100], min(args.burst, 20)
    command = "python -m bench " + " ".join(argv if argv is not None else sys.argv[1:])
    # First, before the embedded AWS starts: its threads (executions, timers) would otherwise share
    # the CPU with the fresh interpreters and inflate their times.
    imports = [c.to_dict() for c in cold_imports(2 if args.quick else 5)]
    result: dict[str, Any] = {
        "command": command.strip(),
        "generatedAt": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "system": platform.system()},
        "executions": {mode: [k.to_dict() for k in run_kinds(reads)] for mode, reads in MODES.items()},
        "budget": {mode: [k.to_dict() for k in run_budget(reads)] for mode, reads in MODES.items()},
        "reconciler": [c.to_dict() for c in run_scale(args.cards)],
        "burst": run_burst(args.burst).to_dict(),
        "coldImports": imports,
        "layer": layer_size(),
    }
    path = write(result, datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ"))
    show(result)
    print(f"saved {path.relative_to(path.parents[2])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
