"""The HTTP gateway: app factory, one routes module per resource, schemas, dependencies, error handlers."""
