"""Ask before anything irreversible: one mechanism for every delete (and release, detach, remove) in the console.

The delete form posts as it always did. Its handler asks ``confirm_first`` before it acts::

    def delete_thing(ctx, thing_id):
        thing = ctx.services.things.get(ctx.project.id, thing_id)
        if asked := confirm_first(ctx, what="thing", name=thing["name"], cancel_url=f"/things/{thing_id}"):
            return asked                                   # the confirmation page; nothing was done
        ctx.services.things.delete(ctx.project.id, thing_id)
        ...

``confirm_first`` returns None once the form carries ``confirmed=1`` (and, with ``typed=True``, a
``confirm_name`` equal to ``name``: for projects, VPCs and buckets that still hold objects); otherwise it
returns the confirmation page (templates/confirm.html), which posts the same fields again to the same URL
with ``confirmed=1`` added. A missing or wrong typed name gives that page again (422) with the message:
the server checks it, whatever a script did.

With JavaScript the page never shows: the form (or its submit button) carries the question from the
``confirm`` macro in templates/macros.html (``<form ... {{ confirm("thing", thing.name) }}>``);
static/confirm.js shows it in a ``<dialog>`` (with the typed-name field where needed), adds the fields and
submits. ``what`` names the kind of thing in the catalog: ``look_console.what.<what>`` (add a key there, in
ko and en, for a new kind); ``action`` is one of ``ACTIONS`` (its question and button label).
"""
from __future__ import annotations

from minicloud.handlers.pages.common import current_path, render
from minicloud.web import csrf

ACTIONS = ("delete", "release", "detach", "remove", "revoke")
CONFIRM_FIELDS = (csrf.FIELD, "confirmed", "confirm_name")


def is_confirmed(ctx, name: str = "", typed: bool = False) -> bool:
    """The form says the user has confirmed (and typed ``name`` exactly, when ``typed``)."""
    form = ctx.request.form
    if form.get("confirmed") != "1":
        return False
    return not typed or form.get("confirm_name", "").strip() == name


def confirm_first(ctx, what: str, name: str, typed: bool = False, cancel_url: str | None = None,
                  action: str = "delete", detail: str | None = None):
    """None when the user has confirmed this; else the confirmation page (a response) to return as it is.

    ``what``: the kind (``look_console.what.<what>``); ``name``: the thing's name, as shown and typed;
    ``typed``: the user must type the name; ``cancel_url``: where "cancel" leads (default: the page of
    this path); ``action``: delete, release, detach, remove or revoke; ``detail``: one more line of text
    (already in the page's language) saying what goes with it."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    name = str(name)
    if is_confirmed(ctx, name, typed):
        return None
    form = ctx.request.form
    ctx.audit_skip = True  # only asked: nothing happened that the audit log should list
    tried = form.get("confirmed") == "1"  # a confirmation came, but its typed name was missing or wrong
    fields = [(key, value) for key, value in form.items(multi=True) if key not in CONFIRM_FIELDS]
    return render(ctx, "confirm.html", status=422 if tried else 200, what=what, name=name, typed=typed,
                  action=action, detail=detail, fields=fields, post_url=ctx.request.path,
                  cancel_url=cancel_url or current_path(ctx),
                  error=ctx.t("look_console.confirm.name_mismatch", name=name) if tried else None)
