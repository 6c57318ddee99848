"""The `digitctl` command: global options, error mapping, and the command groups."""
from __future__ import annotations

import sys
from typing import Any

import click
import typer
from typer.core import TyperGroup

from digitctl.cli.output import FORMATS, CliState, emit_error, state

GLOBAL_WITH_VALUE = {"--store", "--output", "-o"}


def hoist_global_options(args: list[str]) -> list[str]:
    """Scripts write `digitctl mdms search ... -o json`: move --store/--output/-o, wherever they
    stand, before the subcommand so the root callback sees them."""
    front: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            rest.extend(args[i:])
            break
        # `-o FILE` belongs to a command (receipt print, filestore get) unless FILE is a format name
        if arg in GLOBAL_WITH_VALUE and i + 1 < len(args) and (arg != "-o" or args[i + 1] in FORMATS):
            front += [arg, args[i + 1]]
            i += 2
            continue
        if arg == "--wide":
            front.append(arg)
        elif arg.startswith(("--store=", "--output=")):
            front.append(arg)
        elif arg.startswith("-o") and len(arg) > 2 and arg[2:] in FORMATS:
            front += ["-o", arg[2:]]
        else:
            rest.append(arg)
        i += 1
    return front + rest


class DigitGroup(TyperGroup):
    """Root group: hoists global options and turns DigitError into exit codes and envelopes."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, hoist_global_options(list(args)))

    def invoke(self, ctx: click.Context) -> Any:
        from digitctl.errors import DigitError

        try:
            return super().invoke(ctx)
        except DigitError as err:
            emit_error(err.code, err.message, err.params, err.description, _fmt(ctx))
            raise click.exceptions.Exit(err.exit_code) from None
        except click.UsageError as err:
            if _fmt(ctx) not in ("json", "yaml"):
                raise                      # people get click's usage box
            # scripts asked for JSON: a DIGIT error envelope they can parse, exit 2 as click's
            emit_error("INVALID_USAGE", err.format_message(),
                       {"command": err.ctx.command_path if err.ctx else ctx.command_path}, fmt=_fmt(ctx))
            raise click.exceptions.Exit(2) from None
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except KeyboardInterrupt:    # Ctrl-C: the unit of work in progress rolled back
            emit_error("INTERRUPTED", "interrupted, nothing written", fmt=_fmt(ctx))
            raise click.exceptions.Exit(130) from None
        except Exception as err:  # an unexpected failure: exit 1, no traceback unless asked
            import os

            if os.environ.get("DIGITCTL_DEBUG"):
                raise
            damaged = _store_damaged(ctx, err)
            if damaged is not None:   # the file is not a sound database: say so and how to restore (exit 2)
                emit_error(damaged.code, damaged.message, damaged.params, fmt=_fmt(ctx))
                raise click.exceptions.Exit(2) from None
            unavailable = _store_unavailable(err)
            if unavailable:       # the database is down, missing or busy: not a bug, say so (exit 2)
                emit_error("STORE_UNAVAILABLE", unavailable, {"store": ctx.obj.app.store.display_url()
                                                              if isinstance(ctx.obj, CliState) and ctx.obj._app
                                                              else None}, fmt=_fmt(ctx))
                raise click.exceptions.Exit(2) from None
            refused = _integrity_error(err)
            if refused is not None:   # a constraint of the store said no: nothing was written
                emit_error(refused.code, refused.message, refused.params, fmt=_fmt(ctx))
                raise click.exceptions.Exit(refused.exit_code) from None
            if isinstance(err, RecursionError):
                emit_error("NESTING_TOO_DEEP", "the input is nested too deeply to read", fmt=_fmt(ctx))
                raise click.exceptions.Exit(2) from None
            emit_error("INTERNAL_ERROR", _without_sql(err),
                       description="set DIGITCTL_DEBUG=1 for the traceback", fmt=_fmt(ctx))
            raise click.exceptions.Exit(1) from None
        finally:
            if isinstance(ctx.obj, CliState):
                ctx.obj.close()


def _store_damaged(ctx: click.Context, err: Exception) -> Any:
    """STORE_DAMAGED (with the restore hint) when the store file is damaged, else None."""
    if not type(err).__module__.startswith(("sqlalchemy", "sqlite3")):
        return None
    from digitctl.services.store_health import damage_reason, damaged

    reason = damage_reason(err)
    if reason is None:
        return None
    url = ctx.obj.app.store.display_url() if isinstance(ctx.obj, CliState) and ctx.obj._app else None
    return damaged(url or "?", reason)


def _store_unavailable(err: Exception) -> str | None:
    """The message for a store that cannot be reached or used right now, else None."""
    if not type(err).__module__.startswith("sqlalchemy"):
        return None
    from digitctl.services.store import unavailable_reason

    return unavailable_reason(err)


def _integrity_error(err: Exception) -> Any:
    """A store constraint violation as a DIGIT-style refusal, else None."""
    if not type(err).__module__.startswith("sqlalchemy"):
        return None
    from digitctl.services.store import constraint_refusal

    return constraint_refusal(err)


def _without_sql(err: Exception) -> str:
    """`Type: message` of an unexpected error; a database error loses SQLAlchemy's statement and
    parameters (they may hold PII), keeping the driver's first line."""
    if type(err).__module__.startswith("sqlalchemy") and getattr(err, "orig", None) is not None:
        orig = err.orig  # type: ignore[attr-defined]
        return f"{type(orig).__name__}: {(str(orig).strip().splitlines() or [''])[0]}"
    return f"{type(err).__name__}: {err}"


def _fmt(ctx: click.Context) -> str:
    if isinstance(ctx.obj, CliState):
        return ctx.obj.output
    # before the root callback ran (an unknown command): the option as parsed
    asked = ctx.params.get("output") if isinstance(ctx.params, dict) else None
    return asked if asked in FORMATS else "table"


def _print_version(value: bool) -> None:
    if value:
        from digitctl import __version__

        typer.echo(f"digitctl {__version__}")
        raise typer.Exit()


app = typer.Typer(
    cls=DigitGroup,
    help="eGov DIGIT's service stack for counter PCs and admin terminals.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def root(
    ctx: typer.Context,
    store: str = typer.Option(None, "--store", envvar="DIGIT_STORE",
                              help="Store URL (sqlite:///path or postgresql://...) or a file path."),
    output: str = typer.Option("table", "--output", "-o", help="table | json | yaml | csv"),
    tenant: str = typer.Option(None, "--tenant", envvar="DIGIT_TENANT",
                               help="Default tenant for commands that take one."),
    wide: bool = typer.Option(False, "--wide", help="Tables at full width: every column, whatever the terminal."),
    version: bool = typer.Option(False, "--version", is_eager=True, callback=_print_version,
                                 help="Print digitctl's version and exit."),
) -> None:
    if output not in FORMATS:
        raise typer.BadParameter(f"must be one of {', '.join(FORMATS)}", param_hint="--output")
    ctx.obj = CliState(store=store, output=output, tenant=tenant, wide=wide)


def _register() -> None:
    from digitctl.cli import (applications, audit, billing, collection, filestore, hub, idgen, inbox, keys,
                              localization, mdms, mdms_schema, notify, otp, reports, session, shifts, store, sync,
                              tenants, tui, users, workflow)

    store.register(app)
    session.register(app)
    app.add_typer(users.app, name="user")
    app.add_typer(otp.app, name="otp")
    app.add_typer(audit.app, name="audit")
    app.add_typer(keys.app, name="keys")
    app.add_typer(workflow.app, name="workflow")
    app.add_typer(applications.app, name="application")
    app.command("inbox")(inbox.inbox)
    app.add_typer(filestore.app, name="filestore")
    app.add_typer(shifts.app, name="shift")
    app.add_typer(reports.app, name="report")
    app.command("pay")(collection.pay)
    app.add_typer(collection.payment_app, name="payment")
    app.add_typer(collection.receipt_app, name="receipt")
    app.add_typer(billing.demand_app, name="demand")
    app.add_typer(billing.bill_app, name="bill")
    mdms.app.add_typer(mdms_schema.schema_app, name="schema")
    app.add_typer(mdms.app, name="mdms")
    app.add_typer(tenants.tenant_app, name="tenant")
    app.add_typer(tenants.boundary_app, name="boundary")
    app.add_typer(idgen.app, name="id")
    app.add_typer(localization.app, name="localization")
    app.add_typer(notify.app, name="notify")
    app.add_typer(sync.app, name="sync")
    app.add_typer(hub.app, name="hub")
    tui.register(app)


_register()


def run() -> None:
    app()


if __name__ == "__main__":  # pragma: no cover
    run()
