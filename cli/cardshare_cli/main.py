"""``cardshare``: the operator's questions about a deployed stack, answered from AWS APIs."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

import click
from botocore.exceptions import BotoCoreError, ClientError
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from cardshare.reconciler import LedgerUnavailableError, Report
from cardshare_cli import render
from cardshare_cli.errors import OperatorError, one_line
from cardshare_cli.history import Ledger
from cardshare_cli.inspection import Inspector
from cardshare_cli.redrive import Redrive
from cardshare_cli.repairs import Repairs
from cardshare_cli.stack import Connection, Stack, open_stack

# Exit codes: 0 done (and, for audit, no drift); 1 an error; 2 bad usage; 3 audit found drift.
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_DRIFT = 3
_EXPECTED = (OperatorError, ClientError, BotoCoreError, LedgerUnavailableError)


@dataclass(frozen=True)
class Options:
    """The global options, kept until a command needs the stack."""

    connection: Connection
    output: str

    def stack(self) -> Stack:
        """Open the stack (CloudFormation outputs, the functions' settings)."""
        return open_stack(self.connection)

    @property
    def json(self) -> bool:
        """True for ``--output json``."""
        return self.output == "json"


pass_options = click.make_pass_decorator(Options)


@contextmanager
def progress(options: Options, label: str, total: int | None = None) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr while long work runs (only on a terminal: pipes and JSON stay clean)."""
    columns = [SpinnerColumn(), TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    err = render.console(stderr=True)
    with Progress(*columns, console=err, transient=True, disable=options.json or not err.is_terminal) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--stack-name", default="cardshare", show_default=True, help="The cardshare stack (its outputs are read)."
)
@click.option("--region", default=None, help="AWS region (default: the profile's, or AWS_REGION).")
@click.option("--profile", default=None, help="AWS CLI profile (default: AWS_PROFILE or the default chain).")
@click.option(
    "--endpoint-url", default=None, help="Send every AWS call here (also AWS_ENDPOINT_URL), e.g. make serve's URL."
)
@click.option("--output", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.version_option(package_name="cardshare", prog_name="cardshare")
@click.pass_context
def cli(
    context: click.Context,
    stack_name: str,
    region: str | None,
    profile: str | None,
    endpoint_url: str | None,
    output: str,
) -> None:
    """Operate a cardshare stack: who can do what with which model card, why, and repairs."""
    context.obj = Options(Connection(stack_name, region, profile, endpoint_url), output)


@cli.command()
@click.argument("card")
@pass_options
def status(options: Options, card: str) -> None:
    """Each stage of CARD (name or ARN): share, association, principals, access."""
    view = Inspector(options.stack()).card(card)
    out = render.console()
    if options.json:
        render.emit_json(out, view.to_dict())
    else:
        out.print(render.status_table(view))


@cli.command()
@pass_options
def cards(options: Options) -> None:
    """Every card x every stage: what each stage's accounts can do with it."""
    inspector = Inspector(options.stack())
    with progress(options, "listing cards and associations") as tick:
        rows = inspector.matrix(tick)
    out = render.console()
    if options.json:
        render.emit_json(out, [row.to_dict() for row in rows])
    else:
        out.print(render.matrix_table([stage.name for stage in inspector.stages], rows))


@cli.command()
@click.argument("card")
@pass_options
def why(options: Options, card: str) -> None:
    """CARD's latest decision: outcome, gates and reasons, who approved which version, the evidence."""
    explanation = Ledger(options.stack()).explain(card)
    out = render.console()
    if options.json:
        render.emit_json(out, explanation.to_dict())
        return
    for table in render.why_tables(explanation):
        out.print(table)


def _iso_time(_: click.Context, __: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value).isoformat()
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not an ISO 8601 time (e.g. 2026-12-01 or 2026-12-01T09:30:00+00:00)"
        ) from None


@cli.command()
@click.argument("card")
@click.option("--since", callback=_iso_time, help="Only decisions from this ISO 8601 time on (UTC unless it says).")
@pass_options
def ledger(options: Options, card: str, since: str | None) -> None:
    """CARD's decisions in time order."""
    records = Ledger(options.stack()).decisions(card, since)
    out = render.console()
    if options.json:
        render.emit_json(out, records)
    else:
        out.print(render.ledger_table(card, records))


@cli.command()
@pass_options
def audit(options: Options) -> None:
    """The reconciler's drift report as a dry run (exit 3 when something drifted)."""
    repairs = Repairs(options.stack())
    with progress(options, "checking cards (ledger reads)") as tick:
        report = repairs.fleet(dry_run=True, tick=tick)
    _report(options, report, "drift (dry run)")
    if report.drift:
        raise SystemExit(EXIT_DRIFT)


@cli.command()
@click.option("--card", default=None, help="Only this card (name or ARN): start its workflow whatever its drift.")
@click.option("--dry-run", is_flag=True, help="Only report what would be repaired.")
@pass_options
def reconcile(options: Options, card: str | None, dry_run: bool) -> None:
    """Repair one card or every drifted card through the promote-card workflow."""
    repairs = Repairs(options.stack())
    if card is not None:
        report = repairs.card(card, dry_run=dry_run)
    else:
        with progress(options, "checking cards (ledger reads)") as tick:
            report = repairs.fleet(dry_run=dry_run, tick=tick)
    _report(options, report, "drift" + (" (dry run)" if dry_run else ": repairs started"))
    if report.failures:
        raise OperatorError(f"{len(report.failures)} repair(s) could not start: {report.failures[0]}")


def _report(options: Options, report: Report, title: str) -> None:
    out = render.console()
    if options.json:
        render.emit_json(out, report.to_dict())
        return
    if report.drift:
        out.print(render.report_table(report, title))
    out.print(render.report_summary(report))


@cli.command()
@click.option("--dry-run", is_flag=True, help="Only count the events waiting in the dead-letter queue.")
@pass_options
def redrive(options: Options, dry_run: bool) -> None:
    """Start the workflow for every dead-lettered card event, until the queue is empty."""
    drain = Redrive(options.stack())
    queued = drain.queued()
    with progress(options, "redriving dead-lettered events", total=queued or None) as tick:
        result = drain.run(dry_run=dry_run, queued=queued, tick=tick)
    out = render.console()
    if options.json:
        render.emit_json(out, result.to_dict())
    else:
        out.print(render.redrive_summary(result))


def main(argv: list[str] | None = None) -> int:
    """The console script: one line on stderr and a non-zero exit for anything that goes wrong."""
    try:
        cli.main(args=argv, prog_name="cardshare", standalone_mode=False)
    except click.exceptions.Exit as done:
        return int(done.exit_code)
    except click.Abort:
        click.echo("cardshare: aborted", err=True)
        return EXIT_ERROR
    except click.UsageError as error:
        hint = f" (see `{error.ctx.command_path} --help`)" if error.ctx else ""
        click.echo(f"cardshare: error: {error.format_message()}{hint}", err=True)
        return EXIT_USAGE
    except click.ClickException as error:
        click.echo(f"cardshare: error: {error.format_message()}", err=True)
        return error.exit_code
    except SystemExit as done:
        return int(done.code or 0)
    except _EXPECTED as error:
        click.echo(f"cardshare: error: {one_line(error)}", err=True)
        return EXIT_ERROR
    return 0


if __name__ == "__main__":
    sys.exit(main())
