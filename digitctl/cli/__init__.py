"""The command line: Typer groups, one module per group; parse -> call a service -> render."""
