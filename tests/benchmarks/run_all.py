"""Run every bench_*.py in this folder in turn, each in its own interpreter (`make bench`).
Exits non-zero if a benchmark crashed; the figures themselves are never judged.

Long runs are kept short here: bench_hub_memory.py loads the hub for DIGIT_BENCH_HUB_SECONDS
(default 60 s; the 10-minute figure of issue 11 is DIGIT_BENCH_HUB_SECONDS=600 make bench)."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    failed = []
    for bench in sorted(HERE.glob("bench_*.py")):
        print(f"== {bench.name}", flush=True)
        started = time.perf_counter()
        done = subprocess.run([sys.executable, str(bench)], cwd=HERE.parents[1])
        print(f"-- {bench.name}: {'ok' if done.returncode == 0 else f'exit {done.returncode}'} "
              f"in {time.perf_counter() - started:.1f} s\n", flush=True)
        if done.returncode != 0:
            failed.append(bench.name)
    if failed:
        print("failed: " + ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
