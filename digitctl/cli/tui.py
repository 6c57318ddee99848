"""`digitctl tui [--screen counter|inbox]`: the terminal UI. Textual is imported only here, when
the command runs (DESIGN.md rule 8)."""
from __future__ import annotations

import typer

SCREENS = ("counter", "inbox", "receipts", "shift")


def tui(screen: str = typer.Option(None, "--screen", help="First screen after login: counter | inbox "
                                   "(default: the one that fits your roles).")) -> None:
    """Open the counter and the inbox in a terminal UI (F1 for the keys)."""
    from digitctl.cli.output import state
    from digitctl.errors import InvalidInput
    from digitctl.services.store import require_initialized

    if screen is not None and screen not in SCREENS:
        raise InvalidInput("INVALID_SCREEN", f"--screen must be one of {', '.join(SCREENS)}", {"screen": screen})
    core = state().app
    require_initialized(core)
    try:
        from tui.app import DigitApp
    except ModuleNotFoundError as err:
        if not (err.name or "").startswith("textual"):
            raise
        raise InvalidInput("TUI_NOT_INSTALLED", f"the terminal UI needs Textual ({err.name or err}): "
                           "pip install 'digitctl[tui]'", {"missing": str(err.name or "")}) from None

    DigitApp(core, first=screen).run()


def register(app: typer.Typer) -> None:
    app.command("tui")(tui)
