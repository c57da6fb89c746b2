"""``cardshare``: the operator's questions about a deployed stack, answered from AWS APIs."""

from __future__ import annotations

import functools
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from cardshare.reconciler import Report
from cardshare_cli import render
from cardshare_cli.errors import OperatorError, one_line
from cardshare_cli.history import Ledger
from cardshare_cli.inspection import Inspector
from cardshare_cli.redrive import Redrive
from cardshare_cli.repairs import Repairs
from cardshare_cli.stack import Connection, Stack, open_stack

# Exit codes: 0 done (and, for audit, no drift); 1 an error; 2 bad usage; 3 audit found drift; 130 Ctrl-C.
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_DRIFT = 3
EXIT_INTERRUPTED = 130


@dataclass(frozen=True)
class Options:
    """The global options, kept until a command needs the stack."""

    connection: Connection
    output: str

    @classmethod
    def resolve(cls, before: dict[str, Any], after: dict[str, Any]) -> Options:
        """Options given before the command, overridden by those after it (the AWS CLI takes both)."""
        given = {**before, **{name: value for name, value in after.items() if value is not None}}
        connection = Connection(
            given.get("stack_name") or "cardshare", given.get("region"), given.get("profile"), given.get("endpoint_url")
        )
        return cls(connection, given.get("output") or "table")

    def stack(self) -> Stack:
        """Open the stack (CloudFormation outputs, the functions' settings)."""
        return open_stack(self.connection)

    @property
    def json(self) -> bool:
        """True for ``--output json``."""
        return self.output == "json"


_GLOBAL_OPTIONS = (
    click.option("--stack-name", default=None, help="The cardshare stack (default: cardshare)."),
    click.option("--region", default=None, help="AWS region (default: AWS_REGION, AWS_DEFAULT_REGION, the profile's)."),
    click.option("--profile", default=None, help="AWS CLI profile (default: AWS_PROFILE or the default chain)."),
    click.option(
        "--endpoint-url",
        default=None,
        callback=lambda _, __, value: _url(value),
        help="Send every AWS call here (default: AWS_ENDPOINT_URL).",
    ),
    click.option("--output", type=click.Choice(["table", "json"]), default=None, help="table (default) or json."),
)


def _url(value: str | None) -> str | None:
    # botocore would say "ValueError: Invalid endpoint" at the first call; say which option is wrong.
    if value is not None and not re.match(r"^https?://[^/\s]+", value):
        raise click.BadParameter(f"{value!r} is not an http(s) URL, e.g. http://127.0.0.1:5000")
    return value


_GLOBAL_NAMES = ("stack_name", "region", "profile", "endpoint_url", "output")


def global_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """The AWS CLI's global options, on the group and on every command (before or after its name)."""
    for option in reversed(_GLOBAL_OPTIONS):
        function = option(function)
    return function


def operator_command(function: Callable[..., None]) -> Callable[..., None]:
    """A command taking :class:`Options` first, resolved from the options given around its name."""

    @functools.wraps(function)
    def run(*args: Any, **kwargs: Any) -> None:
        after = {name: kwargs.pop(name) for name in _GLOBAL_NAMES}
        options = Options.resolve(click.get_current_context().obj or {}, after)
        function(options, *args, **kwargs)

    return global_options(run)


@contextmanager
def progress(options: Options, label: str, total: int | None = None) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr while long work runs (only on a terminal: pipes and JSON stay clean)."""
    columns = [SpinnerColumn(), TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    err = render.console(stderr=True)
    with Progress(*columns, console=err, transient=True, disable=options.json or not err.is_terminal) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@global_options
@click.version_option(package_name="cardshare", prog_name="cardshare")
@click.pass_context
def cli(context: click.Context, /, **given: Any) -> None:
    """Operate a cardshare stack: who can do what with which model card, why, and repairs."""
    context.obj = {name: value for name, value in given.items() if value is not None}


@cli.command()
@click.argument("card")
@operator_command
def status(options: Options, card: str) -> None:
    """Each stage of CARD (name or ARN): share, association, principals, access."""
    view = Inspector(options.stack()).card(card)
    out = render.console()
    if options.json:
        render.emit_json(out, view.to_dict())
    else:
        out.print(render.status_table(view))


@cli.command()
@operator_command
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
@operator_command
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
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not an ISO 8601 time (e.g. 2026-12-01 or 2026-12-01T09:30:00+00:00)"
        ) from None
    # The ledger's keys are UTC ISO times compared as text: an offset must become UTC first.
    return (moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)).isoformat()


@cli.command()
@click.argument("card")
@click.option("--since", callback=_iso_time, help="Only decisions from this ISO 8601 time on (UTC unless it says).")
@operator_command
def ledger(options: Options, card: str, since: str | None) -> None:
    """CARD's decisions in time order."""
    records = Ledger(options.stack()).decisions(card, since)
    out = render.console()
    if options.json:
        render.emit_json(out, records)
    else:
        out.print(render.ledger_table(card, records))


@cli.command()
@operator_command
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
@operator_command
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
    out.print(render.report_summary(report), markup=False)


@cli.command()
@click.option("--dry-run", is_flag=True, help="Only count the events waiting in the dead-letter queue.")
@operator_command
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
        out.print(render.redrive_summary(result), markup=False)


def main(argv: list[str] | None = None) -> int:
    """The console script: one line on stderr and a non-zero exit for anything that goes wrong."""
    args = sys.argv[1:] if argv is None else argv
    if not args:
        click.echo(cli.get_help(click.Context(cli, info_name="cardshare")))
        return 0
    try:
        cli.main(args=args, prog_name="cardshare", standalone_mode=False)
    except click.exceptions.Exit as done:
        return int(done.exit_code)
    except (click.Abort, KeyboardInterrupt):
        click.echo("cardshare: interrupted", err=True)
        return EXIT_INTERRUPTED
    except click.UsageError as error:
        hint = f" (see `{error.ctx.command_path} --help`)" if error.ctx else ""
        click.echo(f"cardshare: error: {error.format_message()}{hint}", err=True)
        return EXIT_USAGE
    except click.ClickException as error:
        click.echo(f"cardshare: error: {error.format_message()}", err=True)
        return error.exit_code
    except SystemExit as done:
        return int(done.code or 0)
    except Exception as error:
        # Anything else (a bad --endpoint-url, data the CLI did not expect) is still one line; the
        # exception's type names it for a bug report.
        click.echo(f"cardshare: error: {one_line(error)}", err=True)
        return EXIT_ERROR
    return 0


if __name__ == "__main__":
    sys.exit(main())
