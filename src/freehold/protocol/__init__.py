"""The AWS wire-protocol layer: botocore-driven parsers and serializers, one per protocol."""
