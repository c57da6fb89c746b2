"""What a cold start pays before the first event: importing each function, and the layer's size."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_lambda_powertools

ROOT = Path(__file__).resolve().parents[1]
RUNS = 5
# Timed inside the fresh interpreter: the import alone, not the interpreter's own start. Wall time,
# and the process's CPU time, which a machine shared with other work inflates far less.
_PROBE = (
    "import time; t, c = time.perf_counter(), time.process_time(); import app; "
    "print(time.perf_counter() - t, time.process_time() - c)"
)


@dataclass(frozen=True)
class ColdImport:
    """Seconds to import one function's handler module in a fresh interpreter."""

    function: str
    seconds: list[float]
    cpu_seconds: list[float]

    def to_dict(self) -> dict[str, Any]:
        """JSON form: min and median of the runs, in milliseconds (wall time; CPU time's min)."""
        return {
            "function": self.function,
            "runs": len(self.seconds),
            "minMs": round(min(self.seconds) * 1000, 1),
            "medianMs": round(statistics.median(self.seconds) * 1000, 1),
            "cpuMinMs": round(min(self.cpu_seconds) * 1000, 1),
        }


def cold_imports(runs: int = RUNS) -> list[ColdImport]:
    """Import every function under ``functions/`` in ``runs`` fresh subprocesses each."""
    environment = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "layers" / "cardshare"),
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }
    results = []
    for function in sorted(p for p in (ROOT / "functions").iterdir() if (p / "app.py").exists()):
        timed = [
            [
                float(part)
                for part in subprocess.run(
                    [sys.executable, "-c", _PROBE],
                    cwd=function,
                    env=environment,
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout.split()
            ]
            for _ in range(runs)
        ]
        results.append(ColdImport(function.name, [wall for wall, _ in timed], [cpu for _, cpu in timed]))
    return results


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and "__pycache__" not in f.parts)


def layer_size() -> dict[str, Any]:
    """Bytes of the cardshare layer's code and of Powertools as installed (what ``sam build`` bundles)."""
    ours = _size(ROOT / "layers" / "cardshare" / "cardshare")
    powertools = _size(Path(aws_lambda_powertools.__file__).parent)
    return {
        "cardshareBytes": ours,
        "powertoolsBytes": powertools,
        "totalMB": round((ours + powertools) / 1_000_000, 2),
    }
