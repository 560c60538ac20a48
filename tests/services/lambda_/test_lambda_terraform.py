"""Terraform's AWS provider (5.100, from the local mirror) deploying a layer, a function using
it, an alias with a function URL, the URL's permissions and provisioned concurrency: init, apply,
the URL answering from the layer's module, a plan with no changes, destroy. Skips when
terraform or the mirror is missing."""

from __future__ import annotations

import http.client
import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from lambda_helpers import make_zip

pytestmark = pytest.mark.slow

MIRROR = Path("/opt/tf-plugins")
# Provider 5.100 has no invoked_via_function_url: the InvokeFunction statement is unconditioned.
CONFIG = """terraform {
  required_providers {
    aws = { source = "hashicorp/aws" }
  }
}
provider "aws" {
  region                  = "us-east-1"
  skip_metadata_api_check = true
  endpoints {
    sts    = var.endpoint
    iam    = var.endpoint
    lambda = var.endpoint
  }
}
variable "endpoint" { type = string }
resource "aws_iam_role" "fn" {
  name = "tf-layers-fn"
  assume_role_policy = jsonencode({Version = "2012-10-17", Statement = [{Effect = "Allow", Action = "sts:AssumeRole", Principal = {Service = "lambda.amazonaws.com"}}]})
}
resource "aws_lambda_layer_version" "greeting" {
  layer_name          = "tf-greeting"
  filename            = "${path.module}/layer.zip"
  source_code_hash    = filebase64sha256("${path.module}/layer.zip")
  compatible_runtimes = ["python3.11"]
}
resource "aws_lambda_layer_version_permission" "everyone" {
  layer_name     = aws_lambda_layer_version.greeting.layer_arn
  version_number = aws_lambda_layer_version.greeting.version
  statement_id   = "everyone"
  action         = "lambda:GetLayerVersion"
  principal      = "*"
}
resource "aws_lambda_function" "fn" {
  function_name    = "tf-layers-fn"
  role             = aws_iam_role.fn.arn
  handler          = "app.handler"
  runtime          = "python3.11"
  filename         = "${path.module}/fn.zip"
  source_code_hash = filebase64sha256("${path.module}/fn.zip")
  layers           = [aws_lambda_layer_version.greeting.arn]
  publish          = true
}
resource "aws_lambda_alias" "live" {
  name             = "live"
  function_name    = aws_lambda_function.fn.function_name
  function_version = aws_lambda_function.fn.version
}
resource "aws_lambda_function_url" "live" {
  function_name      = aws_lambda_function.fn.function_name
  qualifier          = aws_lambda_alias.live.name
  authorization_type = "NONE"
  cors {
    allow_origins = ["https://app.example"]
    allow_methods = ["GET"]
    max_age       = 60
  }
}
resource "aws_lambda_permission" "url" {
  statement_id           = "url"
  action                 = "lambda:InvokeFunctionUrl"
  function_name          = aws_lambda_function.fn.function_name
  qualifier              = aws_lambda_alias.live.name
  principal              = "*"
  function_url_auth_type = "NONE"
}
resource "aws_lambda_permission" "invoke" {
  statement_id             = "invoke"
  action                   = "lambda:InvokeFunction"
  function_name            = aws_lambda_function.fn.function_name
  qualifier                = aws_lambda_alias.live.name
  principal                = "*"
}
resource "aws_lambda_provisioned_concurrency_config" "live" {
  function_name                     = aws_lambda_function.fn.function_name
  qualifier                         = aws_lambda_alias.live.name
  provisioned_concurrent_executions = 1
}
output "url" { value = aws_lambda_function_url.live.function_url }
output "url_id" { value = aws_lambda_function_url.live.url_id }
"""


def _terraform(workdir: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["terraform", *args], cwd=workdir, env=env, capture_output=True, text=True, timeout=600)
    allowed = (0, 2) if "-detailed-exitcode" in args else (0,)
    assert result.returncode in allowed, f"terraform {' '.join(args)}:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return result


def test_terraform_layer_function_url_provisioned(freehold_sqlite: Any, tmp_path: Path) -> None:
    if shutil.which("terraform") is None or not MIRROR.is_dir():
        pytest.skip("terraform and its provider mirror are needed for this end-to-end test")
    workdir = tmp_path / "stack"
    workdir.mkdir()
    (workdir / "main.tf").write_text(CONFIG)
    (workdir / "layer.zip").write_bytes(make_zip({"python/greeting.py": "WORD = 'tf-layer'\n"}))
    (workdir / "fn.zip").write_bytes(make_zip({"app.py": "import greeting\n\ndef handler(e, c):\n"
                                                         "    return {'word': greeting.WORD}\n"}))
    (tmp_path / "terraformrc").write_text('provider_installation {\n  filesystem_mirror {\n    path = "%s"\n  }\n}\n'
                                          % MIRROR)
    env = freehold_sqlite.env_for_cli()
    env.pop("AWS_ENDPOINT_URL", None)  # the configuration names its endpoints itself
    env.update(TF_CLI_CONFIG_FILE=str(tmp_path / "terraformrc"), TF_IN_AUTOMATION="1", TF_INPUT="0",
               CHECKPOINT_DISABLE="1", HOME=str(tmp_path), TF_VAR_endpoint=freehold_sqlite.endpoint_url)

    _terraform(workdir, env, "init", "-no-color")
    _terraform(workdir, env, "apply", "-auto-approve", "-no-color")
    outputs = json.loads(_terraform(workdir, env, "output", "-json").stdout)
    url = outputs["url"]["value"]
    assert urlsplit(url).netloc.split(".")[0] == outputs["url_id"]["value"]
    connection = http.client.HTTPConnection("127.0.0.1", freehold_sqlite.port, timeout=60)
    connection.request("GET", "/", headers={"Host": urlsplit(url).netloc})
    response = connection.getresponse()
    assert (response.status, json.loads(response.read())) == (200, {"word": "tf-layer"})
    connection.close()
    lam = freehold_sqlite.client("lambda")
    deadline = time.monotonic() + 30
    while lam.get_provisioned_concurrency_config(FunctionName="tf-layers-fn", Qualifier="live")["Status"] != "READY":
        assert time.monotonic() < deadline, "provisioned concurrency never became READY"
        time.sleep(0.2)

    plan = _terraform(workdir, env, "plan", "-detailed-exitcode", "-no-color")
    assert plan.returncode == 0, f"plan shows changes after apply:\n{plan.stdout}"
    _terraform(workdir, env, "destroy", "-auto-approve", "-no-color")
    assert "tf-layers-fn" not in [f["FunctionName"] for f in lam.list_functions()["Functions"]]
    assert lam.list_layer_versions(LayerName="tf-greeting")["LayerVersions"] == []
