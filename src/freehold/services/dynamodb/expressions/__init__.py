"""DynamoDB's expression language: lexer, parser, name/value resolution, evaluation, updates."""
