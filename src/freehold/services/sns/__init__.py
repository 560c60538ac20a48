"""SNS: topics, subscriptions, filter policies and at-least-once delivery (see provider.py)."""
