"""DynamoDB: tables, items, the expression language, queries, indexes, transactions, streams, TTL."""
