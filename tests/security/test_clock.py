"""Issue 16.3: nobody sets digitctl's clock from outside. DIGITCTL_NOW once froze the shipped
program's clock: an expired token accepted again, lockouts dodged, payments back-dated. Only the
test process may inject a clock (tests/clockhook.py)."""
from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ADMIN_PW = "Admin@12345"


def shipped(store: Path, config: Path, *args: str, stdin: str = "", now: str | None = None) -> subprocess.CompletedProcess:
    """The installed program as a user runs it (python -m digitctl.cli.main): no test hook."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGIT")}
    env.update({"PYTHONPATH": str(REPO), "DIGIT_CONFIG_DIR": str(config)})
    if now:
        env["DIGITCTL_NOW"] = now
    return subprocess.run([sys.executable, "-m", "digitctl.cli.main", "--store", str(store), *args],
                          input=stdin, capture_output=True, text=True, env=env, timeout=120)


def test_digitctl_now_does_not_move_the_shipped_programs_clock(tmp_path):
    store, config = tmp_path / "s.db", tmp_path / "config"
    res = shipped(store, config, "init", "--state", "pb", "--counter", "C01", "--admin-username", "admin",
                  "--admin-password-stdin", stdin=ADMIN_PW + "\n")
    assert res.returncode == 0, res.stderr
    before = dt.datetime.now(dt.timezone.utc)
    # a login "in 2036" would have given a session valid until 2036
    res = shipped(store, config, "login", "--username", "admin", "--password-stdin", "-o", "json",
                  stdin=ADMIN_PW + "\n", now="2036-01-01T10:00:00+05:30")
    assert res.returncode == 0, res.stderr
    expires = dt.datetime.fromisoformat(json.loads(res.stdout)["expiresAt"])
    assert before + dt.timedelta(hours=11) < expires < dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=13)


def test_no_shipped_module_reads_digitctl_now():
    shipped_code = [p for d in ("digitctl", "local_store", "sync", "tui") for p in (REPO / d).rglob("*.py")]
    assert shipped_code
    readers = [str(p.relative_to(REPO)) for p in shipped_code if "DIGITCTL_NOW" in p.read_text(encoding="utf-8")]
    assert readers == []
