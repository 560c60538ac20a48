"""PartiQL statements (ExecuteStatement, BatchExecuteStatement, ExecuteTransaction)."""
