"""Start-up cost of the command line (DESIGN.md rule 8): wall time of `digitctl --help` against a
bare `python -c pass`, measured in the same run, interleaved. Figures printed, never asserted.

Run: python tests/benchmarks/bench_cli_startup.py"""
from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

RUNS = 10


def command() -> list[str]:
    script = Path(sys.executable).with_name("digitctl")
    return [str(script), "--help"] if script.exists() else [sys.executable, "-m", "digitctl.cli.main", "--help"]


def wall(cmd: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> int:
    digitctl = command()
    baseline = [sys.executable, "-c", "pass"]
    wall(digitctl), wall(baseline)        # warm the OS file cache and .pyc files
    times: dict[str, list[float]] = {"digitctl": [], "python": []}
    for _ in range(RUNS):
        times["digitctl"].append(wall(digitctl))
        times["python"].append(wall(baseline))
    cli, bare = statistics.median(times["digitctl"]), statistics.median(times["python"])
    print(f"CLI start-up, median of {RUNS} runs each")
    print(f"  {' '.join(Path(digitctl[0]).name if i == 0 else a for i, a in enumerate(digitctl)):28s}"
          f"{cli * 1000:7.1f} ms  (min {min(times['digitctl']) * 1000:.1f}, max {max(times['digitctl']) * 1000:.1f})")
    print(f"  {'python -c pass':28s}{bare * 1000:7.1f} ms  (min {min(times['python']) * 1000:.1f}, "
          f"max {max(times['python']) * 1000:.1f})")
    print(f"  ratio {cli / bare:.1f}x; digitctl's own import cost ≈ {(cli - bare) * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
