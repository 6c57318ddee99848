"""`digitctl mdms apply|search|schema apply`."""
from __future__ import annotations

import typer

app = typer.Typer(help="Master data (MDMS v1 folders/files, v2 exports and schemas).", no_args_is_help=True)
