"""Module hooks are registered explicitly by the composition root (issue 10): importing a service
module registers nothing; building an App registers the NewTL calculator hook and the workflow
guards once, however many Apps are built. Each check runs in a fresh interpreter, so what other
tests imported or built first does not count."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CHECK = """
from digitctl.services import workflow
import digitctl.services.applications as applications
import digitctl.services.billing as billing
import digitctl.services.tl_calculator as tl_calculator

def counts():
    hooks = workflow._HOOKS.get(("NewTL", "PENDINGPAYMENT"), [])
    guards = workflow._GUARDS.get(workflow.ALL_SERVICES, [])
    return (hooks.count(tl_calculator.raise_tl_demand), guards.count(billing.refuse_payment_action_while_unpaid),
            guards.count(applications._application_agrees))

print("imported", counts())
from digitctl import bootstrap
print("bootstrap imported", counts())
apps = [bootstrap.App(store_url="sqlite:///unused.db"), bootstrap.build("sqlite:///unused2.db")]
print("two apps", counts())
bootstrap.register_modules()
print("again", counts())
"""


def run_fresh(code: str) -> list[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_building_an_app_registers_each_module_hook_exactly_once() -> None:
    assert run_fresh(CHECK) == ["imported (0, 0, 0)", "bootstrap imported (0, 0, 0)",
                                "two apps (1, 1, 1)", "again (1, 1, 1)"]


def test_each_split_module_imports_alone_in_a_fresh_interpreter() -> None:
    for module in ("demands", "bills", "settlement", "billing", "tl_calculator", "applications", "file_formats",
                   "filestore_blobs", "filestore"):
        assert run_fresh(f"import digitctl.services.{module}") == []
