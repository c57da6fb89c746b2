"""The benchmark's result: one JSON document, shown as one table (rich when installed) or Markdown."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
HEADERS = ("Section", "Measure", "Value", "Detail")


def _kinds(
    executions: Mapping[str, Sequence[Mapping[str, Any]]], section: str = "calls per execution"
) -> list[tuple[str, str, str, str]]:
    modes = list(executions)
    rows = []
    for index, first in enumerate(executions[modes[0]]):
        per_mode = [executions[mode][index] for mode in modes]
        calls = " / ".join(f"{k['callsPerExecution']:g}" for k in per_mode)
        services = " / ".join(f"{k['callsWithoutInvokePerExecution']:g}" for k in per_mode)
        transitions = " / ".join(f"{k['transitionsPerExecution']:g}" for k in per_mode)
        invocations = " / ".join(f"{k['lambdaInvocationsPerExecution']:g}" for k in per_mode)
        by_service = ", ".join(f"{service} {sum(ops.values())}" for service, ops in per_mode[-1]["calls"].items())
        rows.append(
            (
                section,
                str(first["kind"]),
                f"{calls} calls ({services} without Invoke)",
                f"{transitions} transitions, {invocations} Lambda; {by_service}",
            )
        )
    return rows


def _reconciler(checks: Sequence[Mapping[str, Any]]) -> list[tuple[str, str, str, str]]:
    rows = []
    by_size: dict[int, list[Mapping[str, Any]]] = {}
    for check in checks:
        by_size.setdefault(int(check["cards"]), []).append(check)
    for cards, group in sorted(by_size.items()):
        ours = [c for c in group if c["checker"] == "reconciler"]
        naive = next(c for c in group if c["checker"].startswith("naive"))
        before = next(c for c in group if "before" in c["checker"])
        naive_time = "not run" if naive["seconds"] is None else f"{naive['seconds']:g} s"
        for check in ours:
            drift = check["driftedCards"]
            label = f"{cards:,} cards" + (f", {drift} drifted" if drift else "")
            detail = f"found {check['driftFound']}; naive {naive['calls']:,} calls ({naive_time})"
            if not drift:
                detail += f"; before {before['calls']:,} calls"
            rows.append(("reconciler dry run", label, f"{check['calls']:,} calls, {check['seconds']:g} s", detail))
    return rows


def rows(result: Mapping[str, Any]) -> list[tuple[str, str, str, str]]:
    """The table's rows, section by section."""
    burst = result["burst"]
    layer = result["layer"]
    return [
        *_kinds(result["executions"]),
        *_kinds(result["budget"], "calls per execution, QuietSeconds=0"),
        *_reconciler(result["reconciler"]),
        (
            "burst",
            f"{burst['cards']} cards created, submitted, approved",
            f"{burst['executionsPerSecond']:g} executions/s, "
            f"p50 {burst['p50Seconds']:g} s, p99 {burst['p99Seconds']:g} s",
            f"{burst['executions']} executions, {burst['failures']} failed, {burst['blocked']} blocked, "
            f"{burst['sharesRemoved']} shares removed, {burst['callsPerExecution']:g} calls/execution",
        ),
        *[
            (
                "cold import",
                str(c["function"]),
                f"min {c['minMs']:g} ms, median {c['medianMs']:g} ms",
                f"{c['runs']} fresh interpreters; CPU time min {c['cpuMinMs']:g} ms",
            )
            for c in result["coldImports"]
        ],
        (
            "layer",
            "cardshare + Powertools",
            f"{layer['totalMB']:g} MB",
            f"cardshare {layer['cardshareBytes']:,} B, Powertools {layer['powertoolsBytes']:,} B",
        ),
    ]


def caption(result: Mapping[str, Any]) -> str:
    """What the calls-per-execution values are."""
    modes = " / ".join(result["executions"])
    return f"calls per execution: RAM settles on {modes}"


def markdown(result: Mapping[str, Any]) -> str:
    """The table as Markdown (what the README shows)."""
    lines = ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows(result)]
    return "\n".join(lines)


def show(result: Mapping[str, Any]) -> None:
    """Print the table: with rich when it is installed, as plain columns otherwise."""
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        table = [HEADERS, *rows(result)]
        widths = [max(len(row[i]) for row in table) for i in range(len(HEADERS))]
        print(caption(result))
        for row in table:
            print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
        return
    rich_table = Table(*HEADERS, title="cardshare bench", caption=caption(result))
    for row in rows(result):
        rich_table.add_row(*row)
    Console(width=max(Console().width, 150)).print(rich_table)


def write(result: Mapping[str, Any], stamp: str) -> Path:
    """Save the result as ``bench/results/<stamp>.json``; return the path."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{stamp}.json"
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path
