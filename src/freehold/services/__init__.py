"""Service providers, one package per AWS service, loaded lazily by `registry`."""
