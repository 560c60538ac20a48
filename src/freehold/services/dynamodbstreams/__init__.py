"""DynamoDB Streams: reading the change records of DynamoDB tables."""
