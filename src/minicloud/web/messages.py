"""What a service says, in the reader's words.

Services speak no language: they raise errors and return statuses as a catalog key, or as
(key, parameters). The API handlers and the pages both turn those into text here, so a message
reads the same in a JSON answer and on a page.
"""
from __future__ import annotations

from typing import Callable

from minicloud.errors import Keyed

Translate = Callable[..., str]  # RequestContext.t: (key, **params) -> text


def text(t: Translate, said: Keyed | None) -> str | None:
    """The text of a keyed message (a key, or (key, params)); None when the service said nothing.
    Text that is no catalog key (a field message ``web.validation`` has already put in words) stays as it is."""
    if said is None:
        return None
    key, params = (said, {}) if isinstance(said, str) else said
    return t(key, **params)


def field_messages(t: Translate, fields: dict[str, Keyed]) -> dict[str, str]:
    """{field: message} for a ValidationFailed's {field: key or (key, params)}."""
    return {name: text(t, problem) for name, problem in fields.items()}
