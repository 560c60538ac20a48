"""The AWS event payload builders (S3, SQS, SNS, streams, API Gateway, ...), shared by the
services that deliver events to functions and by the tests that check them."""
