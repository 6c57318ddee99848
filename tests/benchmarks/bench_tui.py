"""How fast is the terminal UI? Run: `python tests/benchmarks/bench_tui.py [--demands N] [--searches N]`.

Measures (figures printed, never asserted; goals from issue 13: under 1 s and under 100 ms):
  (a) time to the first screen: from launching `python -m digitctl.cli.main tui` (a fresh
      interpreter, every import counted) to the first screen drawn: the counter for a saved
      session (the clerk), the login screen without one. Median of --starts runs. The app runs
      headless (no terminal here), otherwise exactly as the command runs it. Printed with the
      floor in the same run: `python -c "import textual.app"` and a bare `python -c pass`;
  (b) key-to-screen latency of a search: in a Pilot-driven app over a store holding N demands
      (default 100,000, bulk-inserted as bench_payments does), from pressing Enter in the search
      box to the bill drawn on screen, for --searches random consumer codes: median and p95; and
      the same search through the service alone, to show what the UI adds.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))

CHILD = r"""
import sys, time
import tui.app as ta

def show(self):
    sys.stdout.write(f"FIRST {time.time():.6f} {type(self.screen).__name__}\n")
    sys.stdout.flush()
    self.exit()

def on_screen(self, *a, **k):
    self.call_after_refresh(show, self)

orig_first, orig_login = ta.DigitApp.done_first_screen, ta.DigitApp.show_login
ta.DigitApp.done_first_screen = lambda self, name: (orig_first(self, name), on_screen(self))
ta.DigitApp.show_login = lambda self, message="": (orig_login(self, message), on_screen(self))
orig_run = ta.DigitApp.run
ta.DigitApp.run = lambda self, **kw: orig_run(self, headless=True, size=(80, 24))
sys.argv = ["digitctl", "tui"]
from digitctl.cli.main import run
run()
"""


def first_screen_ms(env: dict[str, str]) -> tuple[float, str, float]:
    """(wall ms to the first screen, its name, CPU ms the process used in all): the CPU time
    says what the start costs when the machine is busy with other work (wall time then waits)."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.time()
    done = subprocess.run([sys.executable, "-c", CHILD], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("FIRST ")), None)
    if line is None:
        raise RuntimeError(f"no first screen: {done.stdout[-500:]} {done.stderr[-2000:]}")
    _, at, screen = line.split()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000
    return (float(at) - started) * 1000, screen, cpu


def run_python(code: str, env: dict[str, str]) -> tuple[float, float]:
    """(wall ms, CPU ms) of `python -c CODE`: the floor the first screen stands on."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True)
    wall = (time.perf_counter() - started) * 1000
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


async def ui_searches(url: str, codes: list[str]) -> list[float]:
    """Enter pressed in the search box → the bill of that code painted: the screen's show_bill is
    watched, and the time taken after the next refresh (the frame that shows it)."""
    from tests.benchmarks.bench_payments import ctx_as, frozen_app

    from textual.widgets import Input

    import tui.screens.counter as counter
    from tui.app import DigitApp

    painted: dict[str, float] = {}
    original = counter.CounterScreen.show_bill

    def watched(self: Any, bill: Any) -> None:
        original(self, bill)
        if bill:
            code = str(bill.get("consumerCode"))
            self.call_after_refresh(lambda: painted.setdefault(code, time.perf_counter()))

    counter.CounterScreen.show_bill = watched  # type: ignore[method-assign]
    core = frozen_app(url)
    try:
        app = DigitApp(core, save_login=False, actor=ctx_as(core, "clerk.amritsar").actor, first="counter")
        out = []
        async with app.run_test(size=(80, 24)) as pilot:
            await app.workers.wait_for_complete()
            await pilot.pause()
            for code in codes:
                box = app.screen.query_one("#search", Input)
                box.value = code
                box.focus()
                painted.pop(code, None)
                start = time.perf_counter()
                await pilot.press("enter")
                while code not in painted:
                    await asyncio.sleep(0.001)
                out.append((painted[code] - start) * 1000)
                await app.workers.wait_for_complete()
        return out
    finally:
        counter.CounterScreen.show_bill = original  # type: ignore[method-assign]
        core.close()


def service_searches(url: str, codes: list[str]) -> list[float]:
    from tests.benchmarks.bench_payments import ctx_as, frozen_app

    from digitctl.services import counter_desk

    core = frozen_app(url)
    try:
        ctx = ctx_as(core, "clerk.amritsar")
        ctx = type(ctx)(actor=ctx.actor, tenant_id="pb.amritsar", clock=ctx.clock)
        out = []
        for code in codes:
            start = time.perf_counter()
            counter_desk.find_bills(core, ctx, "pb.amritsar", code)
            out.append((time.perf_counter() - start) * 1000)
        return out
    finally:
        core.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--demands", type=int, default=100_000)
    parser.add_argument("--searches", type=int, default=100)
    parser.add_argument("--starts", type=int, default=5)
    parser.add_argument("--dir", default=None)
    args = parser.parse_args()
    folder = Path(args.dir or tempfile.mkdtemp(prefix="bench-tui-"))
    os.environ["DIGIT_CONFIG_DIR"] = str(folder / "config")
    url = f"sqlite:///{folder / 'store.db'}"

    from tests.benchmarks.bench_payments import bulk_demands, make_store

    from digitctl import session
    from digitctl.services import quickstart

    make_store(url)
    seconds = bulk_demands(url, args.demands, 5000)
    print(f"store: {args.demands:,} demands bulk-inserted in {seconds:.1f} s ({folder})")

    env = {**os.environ, "DIGIT_STORE": url, "PYTHONPATH": str(ROOT)}
    env.pop("DIGIT_TOKEN", None)
    # as an installed digitctl runs: bytecode cached (pip compiles at install); one warm-up run writes it
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    first_screen_ms(env)
    login = [first_screen_ms(env) for _ in range(args.starts)]
    from digitctl import bootstrap

    core = bootstrap.build(url)        # the command runs on the system clock: a session valid now
    try:
        result = session.login(core, core.base_context(), "clerk.amritsar", quickstart.DEMO_PASSWORD)
        session.save_session(session.session_key(core), result)     # where `digitctl login` saves it
    finally:
        core.close()
    counter = [first_screen_ms(env) for _ in range(args.starts)]
    if {r[1] for r in counter} != {"CounterScreen"}:
        raise SystemExit(f"the saved session was not taken up: the first screens were {[r[1] for r in counter]}")
    python, textual = [], []
    for _ in range(args.starts):
        python.append(run_python("pass", env))
        textual.append(run_python("import textual.app", env))
    print(f"(a) first screen, median of {args.starts}: login screen (no session) "
          f"{statistics.median(r[0] for r in login):.0f} ms wall, {statistics.median(r[2] for r in login):.0f} ms "
          f"CPU; saved session → {counter[0][1]} {statistics.median(r[0] for r in counter):.0f} ms wall, "
          f"{statistics.median(r[2] for r in counter):.0f} ms CPU. Baselines in the same run: "
          f"`python -c 'import textual.app'` {statistics.median(r[0] for r in textual):.0f} ms wall, "
          f"{statistics.median(r[1] for r in textual):.0f} ms CPU; `python -c pass` "
          f"{statistics.median(r[0] for r in python):.0f} ms wall (load average {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} CPUs)")

    rng = random.Random(13)
    codes = [f"TL-BULK-{rng.randrange(args.demands):07d}" for _ in range(args.searches)]
    ui = asyncio.run(ui_searches(url, codes))
    rng = random.Random(14)
    other = [f"TL-BULK-{rng.randrange(args.demands):07d}" for _ in range(args.searches)]
    svc = service_searches(url, other)
    print(f"(b) search among {args.demands:,} demands, {args.searches} random consumer codes: "
          f"Enter → bill on screen median {statistics.median(ui):.1f} ms, p95 {pct(ui, 95):.1f} ms; "
          f"the service alone median {statistics.median(svc):.1f} ms, p95 {pct(svc, 95):.1f} ms")


if __name__ == "__main__":
    main()
