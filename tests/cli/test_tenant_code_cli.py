"""One refusal, one code: a command that needs a tenant and has none, or names one the state
does not have, answers DIGIT's INVALID_TENANTID (egov services' CustomException code), the same
in every command group."""
from __future__ import annotations

import pytest
from typer.testing import CliRunner

from digitctl.cli.main import app as cli

runner = CliRunner()
ENV = {"DIGITCTL_NOW": "2026-11-25T11:00:00+05:30"}


@pytest.mark.parametrize("args", [
    ["application", "list"],
    ["application", "create", "--service", "NewTL", "--applicant-name", "A", "--applicant-mobile", "9876543210"],
    ["demand", "list"],
    ["bill", "fetch", "--service", "TL", "--consumer-code", "X"],
    ["boundary", "show"],
    ["id", "generate", "receipt.id"],
    ["keys", "list"],
    ["filestore", "show", "some-id"],
    ["payment", "show", "RCPT-1"],
], ids=lambda a: " ".join(a[:2]))
def test_a_command_without_a_tenant_is_refused_with_invalid_tenantid(demo_users_url, error_of, args):
    runner.invoke(cli, ["--store", demo_users_url, "logout"], env=ENV)      # nobody: no home tenant
    done = runner.invoke(cli, ["--store", demo_users_url, *args, "-o", "json"], env=ENV)
    assert done.exit_code == 2, done.output
    code, message, _ = error_of(done)
    assert code == "INVALID_TENANTID", (code, message)
    assert "--tenant" in message

