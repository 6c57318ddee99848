"""Layering is checked, not hoped for: import-linter's contracts (pyproject.toml), `digitctl --help`
loading no heavy package (DESIGN.md rule 8), services reading time only from the clock (rule 5), and
no import circle among the project's modules (type-only imports included)."""
from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("pandas", "fpdf", "textual", "fastapi", "uvicorn")
WALL_CLOCK_CALLS = ("datetime.now", "datetime.utcnow", "datetime.today", "date.today", "time.time")


def test_import_linter_contracts_are_kept() -> None:
    exe = Path(sys.executable).with_name("lint-imports")
    lint = str(exe) if exe.exists() else shutil.which("lint-imports")
    if lint is None:
        pytest.skip("lint-imports not installed (pip install -e '.[dev]' brings import-linter)")
    done = subprocess.run([lint], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def test_help_loads_no_heavy_package() -> None:
    """Checked in a fresh interpreter. Attempts are recorded too, so the test still bites where
    the reports/tui/hub extras are not installed (an import there would only fail later)."""
    script = textwrap.dedent(f"""
        import sys

        HEAVY = set({HEAVY!r})
        attempted = set()

        class Watch:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in HEAVY:
                    attempted.add(name.split(".")[0])
                return None

        sys.meta_path.insert(0, Watch())
        from typer.testing import CliRunner
        import digitctl.cli.main as main

        runner = CliRunner()
        for args in (["--help"], ["tenant", "list", "--help"]):
            result = runner.invoke(main.app, args)
            assert result.exit_code == 0, (args, result.output)
            assert "Usage" in result.output, result.output
        loaded = {{m.split(".")[0] for m in sys.modules}} & HEAVY
        print(",".join(sorted(loaded | attempted)))
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "", f"`digitctl --help` imported (or tried to import) {done.stdout.strip()}"


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def wall_clock_calls(path: Path) -> list[str]:
    """`file:line call` for every call to datetime.now()/utcnow()/today(), date.today(), time.time()."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = _dotted(node.func)
            if any(name == c or name.endswith("." + c) for c in WALL_CLOCK_CALLS):
                found.append(f"{path.relative_to(REPO)}:{node.lineno} {name}()")
    return found


def test_the_wall_clock_check_sees_the_system_clock() -> None:
    """The check below would notice a call: it finds the one the real clock makes."""
    assert wall_clock_calls(REPO / "digitctl" / "clock.py")


def test_services_and_domain_never_read_the_wall_clock() -> None:
    files = sorted((REPO / "digitctl" / "services").rglob("*.py")) + \
        sorted((REPO / "digitctl" / "domain").rglob("*.py"))
    assert files
    found = [hit for f in files for hit in wall_clock_calls(f)]
    assert found == [], "read time from ctx.now() / the context's clock instead:\n" + "\n".join(found)


def import_cycles() -> list[list[str]]:
    """The import circles among digitctl/local_store/tui/sync modules (imports under TYPE_CHECKING
    and inside functions count), each as its strongly connected modules (Tarjan, iterative)."""
    grimp = pytest.importorskip("grimp")        # import-linter brings it
    graph = grimp.build_graph("digitctl", "local_store", "tui", "sync", cache_dir=None)
    edges = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            if i < len(edges[node]):
                work.append((node, i + 1))
                nxt = edges[node][i]
                if nxt not in index:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    cycles.append(sorted(component))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return cycles


def test_no_import_circles() -> None:
    """A circle makes import order matter and the layers meaningless (issue 10: access <-> users,
    bootstrap <-> services were the last ones). The acyclic_siblings contract says the same per
    package; this lists the modules of each circle."""
    cycles = import_cycles()
    assert cycles == [], "import circles:\n" + "\n".join(" <-> ".join(c) for c in cycles)
