"""freehold: a self-hosted serverless cloud that speaks the AWS wire APIs."""

__version__ = "0.1.0"
