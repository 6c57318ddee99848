"""`digitctl id generate`."""
from __future__ import annotations

import typer

app = typer.Typer(help="DIGIT ID generation (common-masters.IdFormat).", no_args_is_help=True)
