"""Domain rules as plain Python: no SQLAlchemy, Typer, Textual or httpx here."""
