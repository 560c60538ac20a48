"""AWS Lambda: functions, versions, aliases, permissions and invocation (package `lambda_`
because `lambda` is a Python keyword; the registry maps the botocore name to it)."""
