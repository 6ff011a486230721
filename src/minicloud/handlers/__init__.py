"""Handlers: thin functions ``(ctx, **path_params) -> Response`` that parse, call one service, shape the answer."""
