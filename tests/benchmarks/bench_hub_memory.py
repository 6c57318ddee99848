"""Does a hub worker's memory stay flat under a steady load? (issue 11: "Memory of a hub worker
under a 10-minute load: flat.")
Run: `python tests/benchmarks/bench_hub_memory.py [--seconds 600] [--counters 2] [--workers 2]`
(default length: DIGIT_BENCH_HUB_SECONDS, else 60 s so that `make bench` stays short; the figure
the issue asks for is the 600 s run).

On the local PostgreSQL (127.0.0.1:5432, a database made and dropped for the run):
  - the hub store is quickstart's demo state; `digitctl hub serve --store postgresql://...
    --workers N` runs as a real process (uvicorn, N worker processes), on the system clock;
  - C counter stores (SQLite copies of a quickstart store, each with its own identity) are enrolled
    at the hub and registered over HTTP, as `sync register` does; each, in its own process, opens a
    shift and then loops until the time is up: a few demands made and paid in cash through the
    services (collection.pay), `sync.push` of what that wrote, `sync.pull` of every stream (the
    other counters' demands and payments come down);
  - every --interval seconds the RSS of each uvicorn worker process (/proc/PID/status VmRSS) and
    the events the hub stored and applied are sampled.
Printed: the table of samples, then per worker the peak and the slope (MB per minute, least
squares over the second half of the run, after warm-up). "Flat" = that slope near 0. Figures are
printed, never asserted.
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.benchmarks.pg_database import fresh_database  # noqa: E402 - after the path
SECONDS_ENV = "DIGIT_BENCH_HUB_SECONDS"


# -- stores ---------------------------------------------------------------------------------------
def quickstart_store(url: str) -> None:
    from digitctl import bootstrap
    from digitctl.services import quickstart

    app = bootstrap.build(url)
    try:
        quickstart.quickstart(app, app.base_context())
    finally:
        app.close()


def counter_stores(folder: Path, n: int) -> list[str]:
    """N SQLite copies of one quickstart store, each given its own store id (and key files)."""
    from digitctl import bootstrap
    from tests.sync.support import own_identity

    template = folder / "template.db"
    quickstart_store(f"sqlite:///{template}")
    urls = []
    for i in range(n):
        target = folder / f"counter{i + 1}.db"
        for suffix in ("", "-wal", "-shm"):
            src = template.with_name(template.name + suffix)
            if src.exists():
                shutil.copyfile(src, target.with_name(target.name + suffix))
        url = f"sqlite:///{target}"
        app = bootstrap.build(url)
        own_identity(app)
        app.close()
        urls.append(url)
    return urls


# -- the hub process and its workers ----------------------------------------------------------------
def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_hub(store_url: str, port: int, workers: int, log: Path) -> subprocess.Popen[bytes]:
    import httpx

    cmd = [sys.executable, "-c", "from digitctl.cli.main import run; run()", "--store", store_url, "hub", "serve",
           "--port", str(port), "--workers", str(workers)]
    env = {k: v for k, v in os.environ.items() if k != "DIGITCTL_NOW"}
    proc = subprocess.Popen(cmd, env={**env, "PYTHONPATH": str(ROOT)}, stdout=log.open("wb"),
                            stderr=subprocess.STDOUT, cwd=ROOT)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the hub exited {proc.returncode}: {log.read_text(errors='replace')[-2000:]}")
        if len(worker_pids(proc.pid)) >= workers:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1.0).status_code == 200:
                    return proc
            except httpx.HTTPError:
                pass
        time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"the hub did not come up: {log.read_text(errors='replace')[-2000:]}")


def _children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            out += [int(c) for c in task.read_text().split()]
        except OSError:
            pass
    return out


def worker_pids(hub_pid: int) -> list[int]:
    """uvicorn's worker processes: the hub's children started by multiprocessing's spawn (not its
    resource tracker)."""
    pids = []
    for pid in _children(hub_pid):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if b"spawn_main" in cmd or b"uvicorn" in cmd or b"digitctl" in cmd:
            pids.append(pid)
    return sorted(pids)


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


# -- a counter's loop ---------------------------------------------------------------------------------
def counter_loop(url: str, deadline: float, per_round: int, batch: int, done: Any) -> None:
    from digitctl import bootstrap
    from digitctl.services import shifts, sync_outbox
    from sync.pull import pull
    from sync.push import client_for, push
    from tests.helpers import ctx_as
    from tests.sync.support import pay

    app = bootstrap.build(url)
    code = sync_outbox.hub_of(app).counter_code
    shifts.open_shift(app, ctx_as(app, "clerk.amritsar"), "2000")
    rounds = paid = pushed = pulled = 0
    with client_for(app) as client:
        while time.monotonic() < deadline:
            for _ in range(per_round):
                pay(app, f"MEM-{code}-{paid:07d}", rupees=str(100 + paid % 900))
                paid += 1
            pushed += push(app, client, batch_size=batch).accepted
            pulled += sum(pull(app, client).received.values())
            rounds += 1
    app.close()
    done.put((code, rounds, paid, pushed, pulled))


# -- sampling ---------------------------------------------------------------------------------------
def hub_counts(dsn: str) -> tuple[int, int]:
    import psycopg

    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT count(*), count(*) FILTER (WHERE status IN ('applied', 'recorded')) "
                           "FROM hub_event").fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def slope_mb_per_min(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MB), in MB per minute."""
    if len(points) < 2:
        return float("nan")
    n = len(points)
    mx = sum(t for t, _ in points) / n
    my = sum(m for _, m in points) / n
    den = sum((t - mx) ** 2 for t, _ in points)
    return 60 * sum((t - mx) * (m - my) for t, m in points) / den if den else float("nan")


def sample(hub: subprocess.Popen[bytes], dsn: str, seconds: float, interval: float, workers: list[int],
           procs: list[Any]) -> list[tuple[float, dict[int, float], int, int]]:
    rows: list[tuple[float, dict[int, float], int, int]] = []
    started = time.monotonic()
    print(f"{'t (s)':>6} " + " ".join(f"{'rss ' + str(p) + ' MB':>14}" for p in workers)
          + f" {'stored':>9} {'applied':>9}", flush=True)
    while True:
        t = time.monotonic() - started
        rss = {p: r for p in worker_pids(hub.pid) if (r := rss_mb(p)) is not None}
        stored, applied = hub_counts(dsn)
        rows.append((t, rss, stored, applied))
        print(f"{t:6.0f} " + " ".join(f"{rss.get(p, float('nan')):14.1f}" for p in workers)
              + f" {stored:9,} {applied:9,}", flush=True)
        if set(rss) != set(workers):
            print(f"   worker processes now {sorted(rss)} (were {workers})", flush=True)
        if t >= seconds and not any(p.is_alive() for p in procs):
            return rows
        time.sleep(max(0.0, interval - (time.monotonic() - started - t)))


def report(rows: list[tuple[float, dict[int, float], int, int]], workers: list[int], seconds: float) -> None:
    half = rows[-1][0] / 2
    print()
    for p in workers:
        series = [(t, rss[p]) for t, rss, _s, _a in rows if p in rss]
        if not series:
            continue
        late = [(t, m) for t, m in series if t >= half]
        print(f"worker {p}: start {series[0][1]:.1f} MB, after warm-up (t={late[0][0]:.0f} s) {late[0][1]:.1f} MB, "
              f"end {series[-1][1]:.1f} MB, peak {max(m for _, m in series):.1f} MB; "
              f"slope over the second half {slope_mb_per_min(late):+.2f} MB/min")
    t_end, _rss, stored, applied = rows[-1]
    print(f"hub: {stored:,} events stored, {applied:,} applied in {t_end:.0f} s "
          f"({stored / max(t_end, 1e-9):,.0f} events/s stored over the run of {seconds:.0f} s)")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=float(os.environ.get(SECONDS_ENV, "60")))
    parser.add_argument("--counters", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--interval", type=float, default=5.0)
    parser.add_argument("--per-round", type=int, default=10, help="payments a counter takes between push+pull")
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args()
    db = fresh_database("hub_mem")
    if db is None:
        return 0
    dsn, url = db.dsn, db.url
    folder = Path(tempfile.mkdtemp(prefix="hub_mem_"))
    os.environ["DIGIT_CONFIG_DIR"] = str(folder / "config")     # the stores' key files: thrown away after
    hub: subprocess.Popen[bytes] | None = None
    try:
        from digitctl import bootstrap
        from digitctl.services import hub_counters
        from tests.sync.support import register

        quickstart_store(url)
        counters = counter_stores(folder, args.counters)
        port = free_port()
        hub = start_hub(url, port, args.workers, folder / "hub.log")
        workers = worker_pids(hub.pid)
        hub_app = bootstrap.build(url)
        for i, curl in enumerate(counters, start=1):
            enrolled = hub_counters.enrol(hub_app, hub_app.context(), "pb.amritsar", f"memory bench {i}")
            capp = bootstrap.build(curl)
            register(capp, f"http://127.0.0.1:{port}", enrolled["enrolmentCode"])
            capp.close()
        hub_app.close()
        print(f"hub pid {hub.pid}, workers {workers}; {args.counters} counters, {args.per_round} payments "
              f"between push+pull; {args.seconds:.0f} s, a sample every {args.interval:.0f} s", flush=True)
        ctx = mp.get_context("fork")
        done = ctx.Queue()
        deadline = time.monotonic() + args.seconds
        procs = [ctx.Process(target=counter_loop, args=(c, deadline, args.per_round, args.batch, done))
                 for c in counters]
        for p in procs:
            p.start()
        rows = sample(hub, dsn, args.seconds, args.interval, workers, procs)
        for p in procs:
            p.join()
            if p.exitcode != 0:
                print(f"a counter process exited {p.exitcode}")
        while not done.empty():
            code, rounds, paid, pushed, pulled = done.get()
            print(f"counter {code}: {rounds} rounds, {paid} payments, {pushed} events pushed, {pulled} items pulled")
        report(rows, workers, args.seconds)
    finally:
        if hub is not None and hub.poll() is None:
            hub.terminate()
            try:
                hub.wait(timeout=30)
            except subprocess.TimeoutExpired:
                hub.kill()
        db.drop()
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
