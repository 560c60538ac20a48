"""Metric filters and subscription filters (stored and listed), and TestMetricFilter."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

TRANSFORM = [{"metricName": "Errors", "metricNamespace": "App", "metricValue": "1", "defaultValue": 0.0}]
LAMBDA = "arn:aws:lambda:us-east-1:000000000000:function:sink"


def test_metric_filters_crud(logs: Any, group_name: str) -> None:
    logs.create_log_group(logGroupName=group_name)
    logs.put_metric_filter(logGroupName=group_name, filterName="b-errors", filterPattern="ERROR",
                           metricTransformations=TRANSFORM)
    logs.put_metric_filter(logGroupName=group_name, filterName="a-latency", filterPattern="{ $.latency > 100 }",
                           metricTransformations=[{"metricName": "Slow", "metricNamespace": "App", "metricValue": "$.latency"}])
    # Putting an existing name replaces it.
    logs.put_metric_filter(logGroupName=group_name, filterName="b-errors", filterPattern="?ERROR ?FATAL",
                           metricTransformations=TRANSFORM)
    found = logs.describe_metric_filters(logGroupName=group_name)["metricFilters"]
    assert [f["filterName"] for f in found] == ["a-latency", "b-errors"]
    assert found[1]["filterPattern"] == "?ERROR ?FATAL"
    assert found[1]["metricTransformations"] == TRANSFORM and found[1]["logGroupName"] == group_name
    assert [f["filterName"] for f in logs.describe_metric_filters(logGroupName=group_name, filterNamePrefix="a")["metricFilters"]] == ["a-latency"]
    by_metric = logs.describe_metric_filters(metricName="Slow", metricNamespace="App")["metricFilters"]
    assert group_name in {f["logGroupName"] for f in by_metric}
    assert logs.describe_log_groups(logGroupNamePrefix=group_name)["logGroups"][0]["metricFilterCount"] == 2
    logs.delete_metric_filter(logGroupName=group_name, filterName="a-latency")
    with pytest.raises(ClientError) as exc:
        logs.delete_metric_filter(logGroupName=group_name, filterName="a-latency")
    assert exc.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as exc:
        logs.put_metric_filter(logGroupName=group_name + "-x", filterName="f", filterPattern="",
                               metricTransformations=TRANSFORM)
    assert exc.value.response["Error"]["Message"] == "The specified log group does not exist."
    with pytest.raises(ClientError) as exc:
        logs.put_metric_filter(logGroupName=group_name, filterName="f", filterPattern="{ $.x = ",
                               metricTransformations=TRANSFORM)
    assert exc.value.response["Error"]["Code"] == "InvalidParameterException"


def test_subscription_filters_crud_and_quota(logs: Any, group_name: str) -> None:
    logs.create_log_group(logGroupName=group_name)
    logs.put_subscription_filter(logGroupName=group_name, filterName="one", filterPattern="", destinationArn=LAMBDA)
    logs.put_subscription_filter(logGroupName=group_name, filterName="two", filterPattern="ERROR",
                                 destinationArn=LAMBDA, distribution="Random")
    with pytest.raises(ClientError) as exc:
        logs.put_subscription_filter(logGroupName=group_name, filterName="three", filterPattern="", destinationArn=LAMBDA)
    assert exc.value.response["Error"] == {"Code": "LimitExceededException", "Message": "Resource limit exceeded."}
    logs.put_subscription_filter(logGroupName=group_name, filterName="two", filterPattern="WARN", destinationArn=LAMBDA)
    found = logs.describe_subscription_filters(logGroupName=group_name)["subscriptionFilters"]
    assert [(f["filterName"], f["filterPattern"], f["distribution"]) for f in found] == [
        ("one", "", "ByLogStream"), ("two", "WARN", "ByLogStream")]
    assert found[0]["destinationArn"] == LAMBDA and found[0]["logGroupName"] == group_name
    logs.delete_subscription_filter(logGroupName=group_name, filterName="one")
    assert len(logs.describe_subscription_filters(logGroupName=group_name)["subscriptionFilters"]) == 1
    with pytest.raises(ClientError) as exc:
        logs.delete_subscription_filter(logGroupName=group_name, filterName="one")
    assert exc.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_test_metric_filter(logs: Any) -> None:
    result = logs.test_metric_filter(
        filterPattern="[ip, user, status = 5*, bytes]",
        logEventMessages=["1.2.3.4 bob 200 10", "5.6.7.8 ann 503 99", "not enough"],
    )
    assert result["matches"] == [{
        "eventNumber": 2, "eventMessage": "5.6.7.8 ann 503 99",
        "extractedValues": {"$ip": "5.6.7.8", "$user": "ann", "$status": "503", "$bytes": "99"},
    }]
    terms = logs.test_metric_filter(filterPattern="ERROR -retry", logEventMessages=["ERROR x", "ERROR retry", "ok"])
    assert [m["eventNumber"] for m in terms["matches"]] == [1]
