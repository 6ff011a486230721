"""The web core: router, request context, errors, validation, auth and CSRF."""
