"""The ASGI gateway: the request pipeline, service routing, SigV4 identity and /_freehold/."""
