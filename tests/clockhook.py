"""Test-only: the clock hook. digitctl itself always runs on the system clock (digitctl.bootstrap
.clock_factory); inside the test process tests/conftest.py installs `env_clock` there, so that a
command run through CliRunner with DIGITCTL_NOW=ISO-8601 in its environment sees that instant.

A test that runs the CLI in a subprocess starts it through this file instead of `digitctl`:
    python tests/clockhook.py --store ... login ...
which installs the same hook and then runs the command. The shipped program has no such switch."""
from __future__ import annotations

import os
import sys
from pathlib import Path

ENV = "DIGITCTL_NOW"


def env_clock():
    """A FixedClock at DIGITCTL_NOW when the variable is set, else the system clock."""
    from digitctl.clock import FixedClock, SystemClock, parse_instant

    frozen = os.environ.get(ENV)
    return FixedClock(parse_instant(frozen)) if frozen else SystemClock()


def install() -> None:
    import digitctl.bootstrap

    digitctl.bootstrap.clock_factory = env_clock


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    install()
    from digitctl.cli.main import run

    run()
