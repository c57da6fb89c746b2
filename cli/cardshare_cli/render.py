"""Tables for people (rich) and JSON for scripts: one renderer per answer, shared with the demo."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from cardshare.reconciler import Report
from cardshare_cli.history import Explanation
from cardshare_cli.inspection import NONE, READ_ONLY, READ_WRITE, CardView, MatrixRow
from cardshare_cli.redrive import RedriveResult

# Output piped to a file or another program is not cut to a terminal's 80 columns.
_PIPED_WIDTH = 200
_ACCESS_STYLE = {READ_WRITE: "green", READ_ONLY: "cyan", NONE: "dim"}
_OUTCOME_STYLE = {"shared": "green", "revoked": "yellow", "blocked": "red", "failed": "bold red", "no-op": "dim"}


def console(stderr: bool = False) -> Console:
    """A console that keeps long ARNs whole when its output is not a terminal."""
    probe = Console(stderr=stderr)
    return Console(stderr=stderr, width=None if probe.is_terminal else _PIPED_WIDTH, highlight=False)


def emit_json(out: Console, value: Any) -> None:
    """Plain JSON on stdout (no colour, no wrapping), for jq and scripts."""
    out.file.write(json.dumps(value, indent=2, sort_keys=True, default=str) + "\n")


def _styled(text: str, styles: Mapping[str, str]) -> str:
    style = styles.get(text)
    return f"[{style}]{escape(text)}[/{style}]" if style else escape(text)


def _add(table: Table, *cells: object, styled: Mapping[int, Mapping[str, str]] | None = None) -> None:
    """Add a row of data: every cell escaped (a '[' in an ARN list or an error is text, not markup)."""
    styles = styled or {}
    table.add_row(*(_styled(str(c), styles[i]) if i in styles else escape(str(c)) for i, c in enumerate(cells)))


def _short(arn: str) -> str:
    return arn.rsplit("/", 1)[-1] if "/" in arn else arn


def status_table(view: CardView) -> Table:
    """``cardshare status``: one row per stage."""
    version = f", version {view.version}" if view.version is not None else ""
    title = escape(f"{view.name}: {view.status}{version}")
    table = Table(title=title, title_justify="left")
    for column in ("stage", "share", "association", "principals", "access", "status grants it"):
        table.add_column(column, overflow="fold")
    for row in view.stages:
        principals = ", ".join(p if s == "ASSOCIATED" else f"{p} ({s.lower()})" for p, s in row.principals.items())
        _add(
            table,
            row.stage,
            _share_cell(row.share_arn, row.own_share_arn),
            row.association or "-",
            principals or "-",
            row.access,
            "yes" if row.earned else "no",
            styled={4: _ACCESS_STYLE},
        )
    if view.kms_key_id:
        table.caption = escape(
            f"Encrypted with {view.kms_key_id}: consumers also need kms:Decrypt on it (README: encrypted cards)."
        )
    return table


def _share_cell(share_arn: str, own_share_arn: str) -> str:
    """The share holding the card; when it is not the card's own share, the own one too (drift)."""
    if not own_share_arn or own_share_arn == share_arn:
        return share_arn
    return f"{share_arn} (its own share: {own_share_arn})"


def matrix_table(stages: Sequence[str], rows: Iterable[MatrixRow], title: str = "cards x stages") -> Table:
    """``cardshare cards``: what each stage's accounts can do with each card."""
    table = Table(title=title, title_justify="left")
    table.add_column("card", overflow="fold")
    table.add_column("status")
    for stage in stages:
        table.add_column(stage)
    for row in rows:
        cells = [row.cells[stage] for stage in stages]
        _add(table, row.name, row.status, *cells, styled={2 + i: _ACCESS_STYLE for i in range(len(cells))})
    return table


def _actor(record: Mapping[str, Any]) -> str:
    return str(record.get("actor") or "-")


def ledger_table(card: str, records: Iterable[Mapping[str, Any]]) -> Table:
    """``cardshare ledger``: the card's decisions in time order."""
    table = Table(title=escape(f"decisions for {card}, in time order"), title_justify="left")
    for column in ("time", "version", "status", "outcome", "shares added", "shares removed", "by", "why"):
        table.add_column(column, overflow="fold")
    for record in records:
        _add(
            table,
            record.get("time", ""),
            record.get("version") if record.get("version") is not None else "-",
            record.get("status") or "-",
            record.get("outcome"),
            ", ".join(_short(a) for a in record.get("sharesAdded") or []) or "-",
            ", ".join(_short(a) for a in record.get("sharesRemoved") or []) or "-",
            _actor(record),
            _why(record),
            styled={3: _OUTCOME_STYLE},
        )
    return table


def _why(record: Mapping[str, Any]) -> str:
    if record.get("outcome") == "failed":
        return f"{record.get('error')}: {record.get('cause', '')}"[:300]
    reasons = [reason for gate in record.get("gates") or [] for reason in gate.get("reasons", [])]
    return "; ".join(reasons) or "-"


def why_tables(explanation: Explanation) -> list[Table]:
    """``cardshare why``: the decision, each gate with its reasons, and the card's history behind it."""
    record = explanation.decision
    title = escape(f"latest decision for {record.get('cardName')}")
    summary = Table(title=title, title_justify="left", show_header=False)
    summary.add_column("field")
    summary.add_column("value", overflow="fold")
    for label, value in (
        ("outcome", record.get("outcome")),
        ("decided at", record.get("time")),
        (
            "card",
            f"version {record.get('version')}, {record.get('status')} (treated as {record.get('effectiveStatus')})",
        ),
        ("last modified by", _actor(record)),
        ("shares added", ", ".join(record.get("sharesAdded") or []) or "-"),
        ("shares removed", ", ".join(record.get("sharesRemoved") or []) or "-"),
        ("waited for evidence", f"{record.get('evidenceWaits', 0)} time(s)"),
        ("enforcement", record.get("enforcement") or "-"),
        ("error", f"{record.get('error')}: {record.get('cause')}" if record.get("error") else "-"),
        ("execution", record.get("executionArn")),
    ):
        _add(summary, label, value, styled={1: _OUTCOME_STYLE} if label == "outcome" else None)
    if explanation.note:
        summary.caption = escape(explanation.note)
    gates = Table(title="gates", title_justify="left")
    for column in ("gate", "result", "reasons", "details"):
        gates.add_column(column, overflow="fold")
    for gate in record.get("gates") or []:
        result = "pending" if gate.get("pending") else ("passed" if gate.get("passed") else "FAILED")
        details = ", ".join(f"{k}={_detail(v)}" for k, v in sorted((gate.get("details") or {}).items()))
        _add(gates, gate.get("gate"), result, "; ".join(gate.get("reasons", [])) or "-", details or "-")
    history = Table(title="evidence: the card's history as cardshare saw it", title_justify="left")
    for column in ("at", "change", "version", "status", "by"):
        history.add_column(column, overflow="fold")
    for row in explanation.history:
        _add(history, row.at, row.kind, row.version, row.status, row.actor)
    return [summary, gates, history]


def _detail(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)


def report_table(report: Report, title: str) -> Table:
    """``cardshare audit`` / ``reconcile``: each drifted card, why, and the execution repairing it."""
    table = Table(title=title, title_justify="left")
    for column in ("card", "status", "missing", "unexpected", "reason", "repair"):
        table.add_column(column, overflow="fold")
    for drift in report.drift:
        _add(
            table,
            _short(drift.card_arn),
            drift.status.value if drift.status else "(deleted)",
            ", ".join(drift.missing) or "-",
            ", ".join(drift.extra) or "-",
            drift.reason or "-",
            _short(report.started.get(drift.card_arn, "-")),
        )
    return table


def report_summary(report: Report) -> str:
    """Counts under the table, then each execution started."""
    done = "dry run: nothing started" if report.dry_run else f"{len(report.repairs)} repair(s) started"
    failed = f", {len(report.failures)} could not start" if report.failures else ""
    lines = [f"{report.cards} card(s) checked, {len(report.drift)} drifted; {done}{failed}"]
    lines += [f"started {execution}" for execution in report.repairs]
    return "\n".join(lines)


def redrive_summary(result: RedriveResult) -> str:
    """One line: what the redrive found and did."""
    if result.dry_run:
        line = f"dry run: {result.found - len(result.unreadable)} event(s) in the dead-letter queue would be redriven"
    else:
        line = f"redrove {len(result.executions)} event(s)"
        if result.already_started:
            line += f", {result.already_started} already started by an earlier redrive"
    if result.unreadable:
        line += f"; {len(result.unreadable)} message(s) are not events and stay in the queue"
    return line
