"""SQS: durable standard and FIFO queues with AWS's delivery semantics (see provider.py)."""
