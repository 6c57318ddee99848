"""Issue 12's "Done when", from the commands only: a hub (`digitctl hub serve`, a process) made
with `init`, the whole real pb tree (`mdms apply`), two clerks (`user create`) and N demands
(`demand create -f`); two fresh counters (`init`) enrol, register and pull; the hub goes away;
on each counter a clerk opens a shift and pays the same 20 demands in full, and closes the shift;
the hub comes back, both push; `hub reconcile` lists exactly the 20 excess collections (the
second counter's receipts) and nothing else; after a pull both counters show the 20 demands
paid; `hub daybook` adds up to the two counters' own `report daybook`.

The steps an operator runs once (init, mdms apply, the bulk demand create, register, pull, push,
reconcile, day books) run as `digitctl` processes (through tests/clockhook.py, on the tests'
frozen instant); the clerk's 20 bill fetches and payments at each counter and the read-backs run
through Typer's runner (the same command, without a process start each). The wall time of each
step is printed (`pytest -s`); nothing asserts on it. N is 300, or DIGIT_DONE_WHEN_DEMANDS, or
300 x DIGIT_SLOW_SCALE (issue 12 says 10,000). The hub is PostgreSQL; at DIGIT_SLOW_SCALE >= 1 the
walk also runs with a SQLite hub (the one-PC trial)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import stamina

from tests.sync.support import NOW, REPO, HubProcess, cli_ok

SCALE = float(os.environ.get("DIGIT_SLOW_SCALE", "1.0"))
N = int(os.environ.get("DIGIT_DONE_WHEN_DEMANDS") or 300 * SCALE)
PAID = 20
TENANT = "pb.amritsar"
DAY = "2026-11-25"                                      # NOW's IST date
ADMIN_PW, CLERK_PW = "Admin@2026", "Clerk@2026"


def rupees(i: int) -> int:
    """Demand i's TL_TAX: whole hundreds, so a shift's cash is counted in ₹100 notes."""
    return 300 + 100 * (i % 5)


def owes(i: int, paid: bool) -> tuple[Decimal, Decimal]:
    """Demand i's (total, collected) as `demand list` shows it."""
    return Decimal(rupees(i)), Decimal(rupees(i) if paid else 0)


def consumer(i: int) -> str:
    return f"DW-{i:05d}"


def demands_file(folder: Path, n: int) -> Path:
    """{"Demands": [...]} as DIGIT's demand/_create takes it: one TL demand per consumer code."""
    items = [{"tenantId": TENANT, "consumerCode": consumer(i), "businessService": "TL",
              "taxPeriodFrom": 1585679399000, "taxPeriodTo": 1617172199000, "minimumAmountPayable": 0,
              "payer": {"name": f"Payer {i}", "mobileNumber": f"98{i:08d}"},
              "demandDetails": [{"taxHeadMasterCode": "TL_TAX", "taxAmount": rupees(i), "collectionAmount": 0}]}
             for i in range(n)]
    path = folder / "demands.json"
    path.write_text(json.dumps({"Demands": items}), encoding="utf-8")
    return path


def digitctl(store: str, *args: str, stdin: str | None = None, code: int = 0) -> Any:
    """`digitctl --store STORE ARGS` as a process on the tests' clock; its JSON when `-o json`."""
    env = {**os.environ, "DIGITCTL_NOW": NOW, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, str(REPO / "tests" / "clockhook.py"), "--store", store, *args],
                          input=stdin, capture_output=True, text=True, env=env, cwd=REPO, timeout=3600)
    assert done.returncode == code, f"digitctl {' '.join(args)} → {done.returncode}\n{done.stdout[-3000:]}\n" \
                                    f"{done.stderr[-3000:]}"
    return json.loads(done.stdout) if "-o" in args and done.stdout.strip() else done


class Figures:
    """Wall time of each step, printed at the end."""

    def __init__(self) -> None:
        self.steps: list[tuple[str, float]] = []

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        yield
        self.steps.append((name, time.perf_counter() - start))

    def print(self, title: str) -> None:
        print(f"\n{title}")
        for name, seconds in self.steps:
            print(f"  {seconds:8.2f} s  {name}")
        print(f"  {sum(s for _n, s in self.steps):8.2f} s  in all")


# The state's hub is PostgreSQL (DESIGN.md); the one-PC trial hub on SQLite walks too at full size
# (DIGIT_SLOW_SCALE >= 1; make test runs at 0.5, where tests/sync/test_end_to_end.py and tests/pull
# cover the SQLite hub)
@pytest.fixture(params=["postgres", "sqlite"] if SCALE >= 1 else ["postgres"])
def hub_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        return str(request.getfixturevalue("pg_url"))      # skips, saying why, without a server
    return f"sqlite:///{tmp_path / 'hub.db'}"


@pytest.fixture
def hub(hub_url: str, tmp_path: Path) -> Iterator[HubProcess]:
    process = HubProcess(hub_url, tmp_path)
    try:
        yield process
    finally:
        process.stop()


def login(store: str, user: str, password: str) -> None:
    cli_ok(store, "logout")
    cli_ok(store, "login", "--username", user, "--password-stdin", stdin=password + "\n")


def make_hub(url: str, figures: Figures, folder: Path, pb: Path) -> None:
    with figures.step("hub: init + login"):
        digitctl(url, "init", "--state", "pb", "--admin-username", "hubadmin", "--admin-password-stdin",
                 stdin=ADMIN_PW + "\n")
        digitctl(url, "login", "--username", "hubadmin", "--password-stdin", stdin=ADMIN_PW + "\n")
    with figures.step("hub: mdms apply (the whole real pb tree)"):
        applied = digitctl(url, "-o", "json", "mdms", "apply", str(pb))
        assert applied["errors"] == [] and applied["totals"]["added"] > 20_000, applied["totals"]
    with figures.step("hub: user create x2 (the counters' clerks)"):
        for i in (1, 2):
            digitctl(url, "user", "create", "--type", "EMPLOYEE", "--username", f"clerk{i}.amritsar", "--name",
                     f"Clerk {i}", "--mobile", f"981401234{i}", "--role", f"UC_EMP@{TENANT}", "--role",
                     f"EMPLOYEE@{TENANT}", "--tenant", TENANT, "--password-stdin", stdin=CLERK_PW + "\n")
    with figures.step(f"hub: demand create -f ({N:,} demands)"):
        made = digitctl(url, "-o", "json", "demand", "create", "-f", str(demands_file(folder, N)))
        assert len(made["Demands"]) == N


def make_counter(store: str, n: int, hub: HubProcess, figures: Figures) -> str:
    """A fresh store: init, its administrator, `sync register` with the code `hub enrol` gave."""
    with figures.step(f"counter {n}: hub enrol + init + sync register"):
        enrolled = digitctl(hub.store_url, "-o", "json", "hub", "enrol", "--tenant", TENANT, "--name",
                            f"Amritsar counter {n}")
        digitctl(store, "init", "--state", "pb", "--admin-username", f"admin{n}", "--admin-password-stdin",
                 stdin=ADMIN_PW + "\n")
        digitctl(store, "login", "--username", f"admin{n}", "--password-stdin", stdin=ADMIN_PW + "\n")
        done = digitctl(store, "-o", "json", "sync", "register", "--hub", hub.url, "--code", enrolled["enrolmentCode"])
    code = str(done["Counter"]["counterCode"])
    assert code == enrolled["counterCode"] and done["Counter"]["pastEvents"] == 0   # its set-up stays local
    return code


def demands_at(store: str) -> dict[str, tuple[Decimal, Decimal]]:
    """consumer code -> (total, collected), as `demand list -o json` shows them."""
    from digitctl.domain.money import json_number

    docs = cli_ok(store, "-o", "json", "demand", "list", "--tenant", TENANT)["Demands"]
    return {d["consumerCode"]: (sum((json_number(x["taxAmount"]) for x in d["demandDetails"]), Decimal(0)),
                                sum((json_number(x["collectionAmount"]) for x in d["demandDetails"]), Decimal(0)))
            for d in docs}


def pay_offline(store: str, clerk: str) -> list[str]:
    """The clerk's day: log in, open a shift, fetch and pay the 20 bills in cash, count and close."""
    login(store, clerk, CLERK_PW)
    cli_ok(store, "-o", "json", "shift", "open", "--float", "0")
    receipts = []
    for i in range(PAID):
        [bill] = cli_ok(store, "-o", "json", "bill", "fetch", "--tenant", TENANT, "--consumer-code", consumer(i),
                        "--service", "TL")["Bill"]
        assert Decimal(str(bill["totalAmount"])) == rupees(i)
        [paid] = cli_ok(store, "-o", "json", "pay", "--bill", bill["id"], "--tenant", TENANT, "--mode", "CASH",
                        "--amount", str(rupees(i)))["Payments"]
        receipts.append(paid["paymentDetails"][0]["receiptNumber"])
    cash = sum(rupees(i) for i in range(PAID))
    closed = cli_ok(store, "-o", "json", "shift", "close", "--count", f"100x{cash // 100}")["Shift"]
    assert Decimal(closed["variance"]) == 0 and closed["receiptCount"] == PAID
    return receipts


@pytest.mark.postgres
def test_issue_12_done_when_from_the_cli(hub: HubProcess, hub_url: str, tmp_path: Path, reference: Path) -> None:
    figures = Figures()
    make_hub(hub_url, figures, tmp_path, reference / "mdms" / "data" / "pb")
    with figures.step("hub serve: start"):
        hub.start()
    stores = [f"sqlite:///{tmp_path / f'counter{n}.db'}" for n in (1, 2)]
    codes = [make_counter(store, n, hub, figures) for n, store in enumerate(stores, start=1)]

    for n, store in enumerate(stores, start=1):
        with figures.step(f"counter {n}: first sync pull ({N:,} demands + pb masters)"):
            pulled = digitctl(store, "-o", "json", "sync", "pull")
        assert pulled["received"]["demands"] == pulled["written"]["demands"] == N
        assert pulled["received"]["users"] >= 2 and pulled["received"]["mdms"] > 10_000
        login(store, f"clerk{n}.amritsar", CLERK_PW)        # a clerk the hub enrolled logs in here
        with figures.step(f"counter {n}: demand list ({N:,} demands)"):
            here = demands_at(store)
        assert len(here) == N and all(here[consumer(i)] == owes(i, paid=False) for i in range(PAID))

    with figures.step("hub serve: stop (the network goes)"):
        hub.stop()
    receipts = []
    for n, store in enumerate(stores, start=1):
        with figures.step(f"counter {n}: offline, shift open, {PAID} x (bill fetch + pay), shift close"):
            receipts.append(pay_offline(store, f"clerk{n}.amritsar"))
        with stamina.set_testing(True, attempts=2):          # its retries, without their waits
            refused = cli_ok(store, "-o", "json", "sync", "push", code=1)
        assert refused["Errors"][0]["code"] == "SYNC_HUB_UNREACHABLE"
    own_books = [cli_ok(store, "-o", "json", "report", "daybook", "--date", DAY)["Daybook"] for store in stores]
    cash = sum(rupees(i) for i in range(PAID))
    assert [Decimal(b["grandTotal"]["amount"]) for b in own_books] == [cash, cash]

    with figures.step("hub serve: start again"):
        hub.start()
    for n, store in enumerate(stores, start=1):
        with figures.step(f"counter {n}: sync push"):
            pushed = digitctl(store, "-o", "json", "sync", "push")
        assert pushed["unsynced"] == 0 and pushed["parked"] == []
    with figures.step("hub reconcile"):         # a push answers once its batch is applied
        report = digitctl(hub_url, "-o", "json", "hub", "reconcile", "--tenant", TENANT, code=1)

    # the second counter to push took the 20 dues the first had already settled at the hub
    second = codes[1]
    excess = sorted((x["counterCode"], x["consumerCode"], x["receiptNumber"], Decimal(x["amount"]))
                    for x in report["ExcessCollections"])
    assert excess == sorted((second, consumer(i), receipts[1][i], Decimal(rupees(i))) for i in range(PAID))
    assert {k: v for k, v in report.items() if k != "ExcessCollections"} == {
        "Parked": [], "IncompleteDayEnds": [], "SilentCounters": []}

    for n, store in enumerate(stores, start=1):
        with figures.step(f"counter {n}: sync pull (the delta)"):
            again = digitctl(store, "-o", "json", "sync", "pull")
        assert again["received"]["demands"] >= PAID
        here = demands_at(store)
        assert all(here[consumer(i)] == owes(i, paid=True) for i in range(PAID))         # paid, once
        assert all(here[consumer(i)] == owes(i, paid=False) for i in range(PAID, N))     # the rest still due
        owed = cli_ok(store, "-o", "json", "bill", "fetch", "--tenant", TENANT, "--consumer-code", consumer(0),
                      "--service", "TL", code=2)["Errors"][0]
        assert owed["code"] == "EG_BS_BILL_NO_DEMANDS_FOUND" and owed["message"].startswith("Nothing is due")

    with figures.step("hub daybook"):
        state_book = digitctl(hub_url, "-o", "json", "hub", "daybook", "--tenant", TENANT, "--date", DAY)
    assert state_book["addsUp"] and state_book["complete"]
    assert Decimal(state_book["DayBook"]["grandTotal"]["amount"]) == sum(
        Decimal(b["grandTotal"]["amount"]) for b in own_books) == 2 * cash
    by_code = {c["counterCode"]: c for c in state_book["Counters"]}
    for code, book in zip(codes, own_books):
        assert Decimal(by_code[code]["grandTotal"]) == Decimal(book["grandTotal"]["amount"])
        assert by_code[code]["dayEnd"]["status"] == "complete"
    figures.print(f"issue 12 done-when, hub on {hub_url.split(':')[0]}, {N:,} demands")
