"""Terraform's AWS provider against a live freehold: caller identity, a role with an inline
policy and a managed policy attachment - init, apply, a plan with no changes, destroy.

The provider validates its credentials and learns the account through sts:GetCallerIdentity
for real (no skip_credentials_validation / skip_requesting_account_id). The provider comes
from the local mirror in /opt/tf-plugins; the test skips when terraform is not installed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

MIRROR = Path("/opt/tf-plugins")

CONFIG = """
terraform {
  required_providers {
    aws = { source = "hashicorp/aws" }
  }
}

provider "aws" {
  region                      = "us-east-1"
  skip_metadata_api_check     = true
  endpoints {
    sts = "%(endpoint)s"
    iam = "%(endpoint)s"
  }
}

data "aws_caller_identity" "me" {}

data "aws_iam_policy_document" "trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "fn" {
  name                 = "freehold-tf-fn"
  path                 = "/apps/"
  description          = "made by terraform"
  assume_role_policy   = data.aws_iam_policy_document.trust.json
  max_session_duration = 7200
  tags = {
    app = "freehold"
  }
}

resource "aws_iam_role_policy" "logs" {
  name = "write-logs"
  role = aws_iam_role.fn.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
      Resource = "arn:aws:logs:*:${data.aws_caller_identity.me.account_id}:*"
    }]
  })
}

resource "aws_iam_role_policy_attachment" "basic" {
  role       = aws_iam_role.fn.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
}

output "account_id" {
  value = data.aws_caller_identity.me.account_id
}

output "caller_arn" {
  value = data.aws_caller_identity.me.arn
}

output "role_arn" {
  value = aws_iam_role.fn.arn
}
"""


def _terraform(workdir: Path, env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        ["terraform", *args], cwd=workdir, env=env, capture_output=True, text=True, timeout=timeout
    )
    if result.returncode not in (0, 2) or (result.returncode == 2 and "-detailed-exitcode" not in args):
        raise AssertionError(f"terraform {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture
def terraform_env(freehold_sqlite: Any, tmp_path: Path) -> dict[str, str]:
    if shutil.which("terraform") is None:
        pytest.skip("terraform is not installed (needed on PATH for this end-to-end test)")
    if not MIRROR.is_dir():
        pytest.skip(f"no Terraform provider mirror at {MIRROR}")
    cli_config = tmp_path / "terraformrc"
    cli_config.write_text(
        'provider_installation {\n  filesystem_mirror {\n    path = "%s"\n  }\n}\n' % MIRROR
    )
    env = freehold_sqlite.env_for_cli()
    env.update({
        "TF_CLI_CONFIG_FILE": str(cli_config),
        "TF_IN_AUTOMATION": "1",
        "TF_INPUT": "0",
        "CHECKPOINT_DISABLE": "1",
        "HOME": str(tmp_path),
    })
    env.pop("AWS_ENDPOINT_URL", None)  # the configuration names its endpoints itself
    return env


def test_terraform_role_lifecycle(freehold_sqlite: Any, terraform_env: dict[str, str], tmp_path: Path) -> None:
    workdir = tmp_path / "stack"
    workdir.mkdir()
    (workdir / "main.tf").write_text(CONFIG % {"endpoint": freehold_sqlite.endpoint_url})
    iam = freehold_sqlite.client("iam")

    _terraform(workdir, terraform_env, "init", "-no-color")
    _terraform(workdir, terraform_env, "apply", "-auto-approve", "-no-color")

    outputs = json.loads(_terraform(workdir, terraform_env, "output", "-json").stdout)
    assert outputs["account_id"]["value"] == "000000000000"
    assert outputs["caller_arn"]["value"] == "arn:aws:iam::000000000000:root"
    assert outputs["role_arn"]["value"] == "arn:aws:iam::000000000000:role/apps/freehold-tf-fn"

    role = iam.get_role(RoleName="freehold-tf-fn")["Role"]
    assert role["MaxSessionDuration"] == 7200
    assert role["Description"] == "made by terraform"
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "lambda.amazonaws.com"}
    assert iam.list_role_policies(RoleName="freehold-tf-fn")["PolicyNames"] == ["write-logs"]
    attached = iam.list_attached_role_policies(RoleName="freehold-tf-fn")["AttachedPolicies"]
    assert [p["PolicyName"] for p in attached] == ["AWSLambdaBasicExecutionRole"]

    plan = _terraform(workdir, terraform_env, "plan", "-detailed-exitcode", "-no-color")
    assert plan.returncode == 0, f"plan shows changes after apply:\n{plan.stdout}"

    _terraform(workdir, terraform_env, "destroy", "-auto-approve", "-no-color")
    assert [r["RoleName"] for r in iam.list_roles(PathPrefix="/apps/")["Roles"]] == []
    state = json.loads((workdir / "terraform.tfstate").read_text())
    assert state["resources"] == [] or all(r["mode"] == "data" for r in state["resources"])
    assert os.path.exists(workdir / ".terraform.lock.hcl")
