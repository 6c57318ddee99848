"""digitctl/cli has no import circle: main imports the command groups, and a group imports only
the shared CLI helpers (cli.common, cli.output), never main or another group; lazy imports count."""
from __future__ import annotations

import ast
from pathlib import Path

CLI = Path(__file__).resolve().parents[2] / "digitctl" / "cli"
SHARED = {"digitctl.cli.common", "digitctl.cli.output"}


def cli_imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "digitctl.cli":
                found |= {f"digitctl.cli.{a.name}" for a in node.names}
            elif node.module.startswith("digitctl.cli."):
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("digitctl.cli.")}
    return found


def test_cli_modules_import_only_the_shared_helpers() -> None:
    wrong = {}
    for path in sorted(CLI.glob("*.py")):
        if path.stem in ("main", "__init__"):
            continue
        allowed = SHARED - {f"digitctl.cli.{path.stem}"}
        extra = cli_imports(path) - allowed
        if path.stem == "common":          # common may use output only
            extra = cli_imports(path) - {"digitctl.cli.output"}
        if path.stem == "output":
            extra = cli_imports(path)
        if extra:
            wrong[path.name] = sorted(extra)
    assert wrong == {}, f"CLI modules importing main or each other: {wrong}"
