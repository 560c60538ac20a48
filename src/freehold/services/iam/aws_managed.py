"""The AWS managed policies freehold knows: arn:aws:iam::aws:policy/<path><name>.

A small built-in set of the ones applications and templates attach most often (Lambda
execution roles, full/read-only access to the serverless services, AdministratorAccess).
They live in code, not in SQL: they are the same for every account and survive a reset.
The documents are AWS's own; the policy ids are derived from the name (stable across
restarts, not AWS's ids) and every policy is at version v1.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

AWS_ACCOUNT = "aws"
CREATED = datetime(2015, 2, 6, 18, 39, 46, tzinfo=UTC).timestamp()

_LOGS = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]


def _allow(actions: list[str] | str, resource: str = "*") -> dict[str, Any]:
    return {"Effect": "Allow", "Action": actions, "Resource": resource}


# name -> (path, statements, description)
_POLICIES: dict[str, tuple[str, list[dict[str, Any]], str]] = {
    "AdministratorAccess": (
        "/", [_allow("*")], "Provides full access to AWS services and resources.",
    ),
    "PowerUserAccess": (
        "/",
        [
            {"Effect": "Allow", "NotAction": ["iam:*", "organizations:*", "account:*"], "Resource": "*"},
            _allow([
                "iam:CreateServiceLinkedRole", "iam:DeleteServiceLinkedRole", "iam:ListRoles",
                "organizations:DescribeOrganization", "account:ListRegions", "account:GetAccountInformation",
            ]),
        ],
        "Provides full access to AWS services and resources, but does not allow management of Users and groups.",
    ),
    "AWSLambdaBasicExecutionRole": (
        "/service-role/", [_allow(_LOGS)], "Provides write permissions to CloudWatch Logs.",
    ),
    "AWSLambdaRole": (
        "/service-role/", [_allow(["lambda:InvokeFunction"])], "Default policy for AWS Lambda service role.",
    ),
    "AWSLambdaSQSQueueExecutionRole": (
        "/service-role/",
        [_allow(["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", *_LOGS])],
        "Provides receive message, delete message, and read attribute access to SQS queues, "
        "and write permissions to CloudWatch logs.",
    ),
    "AWSLambdaDynamoDBExecutionRole": (
        "/service-role/",
        [_allow([
            "dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator",
            "dynamodb:ListStreams", *_LOGS,
        ])],
        "Provides list and read access to DynamoDB streams and write permissions to CloudWatch logs.",
    ),
    "AWSLambdaVPCAccessExecutionRole": (
        "/service-role/",
        [_allow([
            *_LOGS, "ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets",
            "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses",
        ])],
        "Provides minimum permissions for a Lambda function to execute while accessing a resource "
        "within a VPC - create, describe, delete network interfaces and write permissions to CloudWatch Logs.",
    ),
    "AWSLambdaExecute": (
        "/",
        [_allow(["logs:*"], "arn:aws:logs:*:*:*"), _allow(["s3:GetObject", "s3:PutObject"], "arn:aws:s3:::*")],
        "Provides Put, Get access to S3 and full access to CloudWatch Logs.",
    ),
    "AWSXRayDaemonWriteAccess": (
        "/",
        [_allow([
            "xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules",
            "xray:GetSamplingTargets", "xray:GetSamplingStatisticSummaries",
        ])],
        "Allow the AWS X-Ray Daemon to relay raw trace segments data to the service's API and "
        "retrieve sampling data (rules, targets, etc.) to be used by the X-Ray SDK.",
    ),
    "AmazonS3FullAccess": (
        "/", [_allow(["s3:*", "s3-object-lambda:*"])],
        "Provides full access to all buckets via the AWS Management Console.",
    ),
    "AmazonS3ReadOnlyAccess": (
        "/",
        [_allow(["s3:Get*", "s3:List*", "s3:Describe*", "s3-object-lambda:Get*", "s3-object-lambda:List*"])],
        "Provides read only access to all buckets via the AWS Management Console.",
    ),
    "AmazonSQSFullAccess": ("/", [_allow(["sqs:*"])], "Provides full access to Amazon SQS via the AWS Management Console."),
    "AmazonSNSFullAccess": ("/", [_allow(["sns:*"])], "Provides full access to Amazon SNS via the AWS Management Console."),
    "AmazonSSMReadOnlyAccess": (
        "/", [_allow(["ssm:Describe*", "ssm:Get*", "ssm:List*"])], "Provides read only access to Amazon SSM.",
    ),
    "CloudWatchLogsFullAccess": (
        "/", [_allow(["logs:*", "cloudwatch:GenerateQuery"])], "Provides full access to CloudWatch Logs",
    ),
}


@dataclass(frozen=True)
class AwsManagedPolicy:
    name: str
    path: str
    document: str
    description: str

    @property
    def arn(self) -> str:
        return f"arn:aws:iam::{AWS_ACCOUNT}:policy{self.path}{self.name}"

    @property
    def policy_id(self) -> str:
        digest = hashlib.sha256(self.arn.encode()).digest()
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
        return "ANPA" + "".join(alphabet[b % 32] for b in digest[:17])


@lru_cache(maxsize=1)
def all_policies() -> dict[str, AwsManagedPolicy]:
    """The built-in AWS managed policies by ARN."""
    result: dict[str, AwsManagedPolicy] = {}
    for name, (path, statements, description) in _POLICIES.items():
        document = json.dumps({"Version": "2012-10-17", "Statement": statements}, indent=4)
        policy = AwsManagedPolicy(name, path, document, description)
        result[policy.arn] = policy
    return result


def find(arn: str) -> AwsManagedPolicy | None:
    return all_policies().get(arn)
