"""The hand-written router: typed parameters, 404, 405 + Allow, HEAD, reverse URLs, listing."""
import uuid

import pytest
from werkzeug.exceptions import MethodNotAllowed, NotFound

from minicloud.web.router import PARAMETER, Route, Router


def handler(ctx, **params):
    return params


@pytest.fixture
def router():
    return Router([
        Route("GET", "/things", "things.list", handler),
        Route("POST", "/things", "things.create", handler),
        Route("GET", "/things/{thing_id:uuid}", "things.get", handler),
        Route("DELETE", "/things/{thing_id:uuid}", "things.delete", handler),
        Route("GET", "/buckets/{name:name}/objects/{key:path}", "objects.get", handler),
        Route("PUT", "/buckets/{name:name}/objects/{key:path}", "objects.put", handler),
        Route("POST", "/buckets/{name:name}/objects/{key:path}/share", "objects.share", handler),
        Route("GET", "/pages/{number:int}", "pages.get", handler),
    ])


def test_uuid_parameter_is_converted(router):
    ident = uuid.uuid4()
    route, params = router.match("GET", f"/things/{ident}")
    assert route.endpoint == "things.get"
    assert params == {"thing_id": ident}


def test_malformed_uuid_is_not_found(router):
    with pytest.raises(NotFound):
        router.match("GET", "/things/not-a-uuid")


def test_path_parameter_keeps_slashes(router):
    route, params = router.match("GET", "/buckets/photos/objects/2024/trip/a b.jpg")
    assert route.endpoint == "objects.get"
    assert params == {"name": "photos", "key": "2024/trip/a b.jpg"}


def test_name_parameter_is_one_segment(router):
    with pytest.raises(NotFound):
        router.match("GET", "/buckets/a/b/objects/x")


def test_int_parameter(router):
    assert router.match("GET", "/pages/12")[1] == {"number": 12}
    with pytest.raises(NotFound):
        router.match("GET", "/pages/twelve")


def test_unknown_path_is_404(router):
    with pytest.raises(NotFound):
        router.match("GET", "/nothing")


def test_wrong_method_is_405_with_allow(router):
    with pytest.raises(MethodNotAllowed) as info:
        router.match("PUT", "/things")
    assert info.value.valid_methods == ["GET", "HEAD", "OPTIONS", "POST"]


def test_allow_names_the_most_specific_pattern(router):
    """``…/objects/a/share`` is matched by both object patterns; its methods are the share route's."""
    assert router.allowed("/buckets/b/objects/a/share") == ["OPTIONS", "POST"]
    assert router.allowed("/buckets/b/objects/a/shared") == ["GET", "HEAD", "OPTIONS", "PUT"]
    assert router.allowed("/nothing") == []
    with pytest.raises(MethodNotAllowed) as info:
        router.match("DELETE", "/buckets/b/objects/a/share")
    assert info.value.valid_methods == ["OPTIONS", "POST"]
    # a GET of that path is still the download of the object named "a/share"
    assert router.match("GET", "/buckets/b/objects/a/share")[0].endpoint == "objects.get"


def test_head_is_answered_by_get(router):
    route, _ = router.match("HEAD", "/things")
    assert route.endpoint == "things.list"


def test_reverse_url(router):
    ident = uuid.uuid4()
    assert router.url_for("things.get", thing_id=ident) == f"/things/{ident}"
    assert router.url_for("objects.get", name="b", key="dir/a b.txt") == "/buckets/b/objects/dir/a%20b.txt"
    assert router.url_for("things.list", limit=5) == "/things?limit=5"
    with pytest.raises(KeyError):
        router.url_for("things.get")


def test_listing_is_the_table_in_order(router):
    assert router.listing()[:2] == [("GET", "/things", "things.list"), ("POST", "/things", "things.create")]
    assert len(router.listing()) == 8


def test_duplicate_endpoint_and_route_are_refused():
    with pytest.raises(ValueError):
        Router([Route("GET", "/a", "x", handler), Route("GET", "/b", "x", handler)])
    with pytest.raises(ValueError):
        Router([Route("GET", "/a", "x", handler), Route("GET", "/a", "y", handler)])


def test_default_roles_follow_the_method():
    assert Route("GET", "/a", "a", handler).required_role == "viewer"
    assert Route("POST", "/a", "b", handler).required_role == "user"
    assert Route("POST", "/a", "c", handler, role="admin").required_role == "admin"


def test_a_path_parameter_may_end_in_a_literal_suffix_but_no_parameter_may_follow_it():
    router = Router([
        Route("GET", "/b/{name:name}/objects/{key:path}", "objects.get", handler),
        Route("POST", "/b/{name:name}/objects/{key:path}/share", "objects.share", handler),
    ])
    route, params = router.match("POST", "/b/photos/objects/2024/share/a.jpg/share")
    assert route.endpoint == "objects.share" and params["key"] == "2024/share/a.jpg"
    route, params = router.match("GET", "/b/photos/objects/2024/share")
    assert route.endpoint == "objects.get" and params["key"] == "2024/share"
    with pytest.raises(ValueError):
        Route("GET", "/b/{key:path}/{other:name}", "bad", handler)


def _sample_path(pattern: str) -> str:
    values = {"uuid": str(uuid.uuid4()), "name": "abc", "int": "7", "path": "a/b", "str": "x"}
    return PARAMETER.sub(lambda m: values[m.group("type") or "str"], pattern)


def test_the_indexed_table_answers_every_route_of_minicloud_as_a_full_scan_would():
    """Only routes whose literal head begins the path are tried; each path still reaches the first route
    of the table that matches it, and Allow still names the same methods."""
    from minicloud.routes import ROUTES

    router = Router(ROUTES)
    for route in ROUTES:
        path = _sample_path(route.pattern)
        first = next(r for r in ROUTES if r.method == route.method and r.match(path) is not None)
        assert router.match(route.method, path)[0] is first, route.pattern
        assert router.allowed(path) == Router([r for r in ROUTES if r.match(path) is not None]).allowed(path)


def test_a_route_with_a_parameter_first_is_tried_for_every_path():
    router = Router([Route("GET", "/static/{name:path}", "static", handler),
                     Route("GET", "/{slug}", "page", handler), Route("GET", "/", "home", handler)])
    assert router.match("GET", "/static/a.css")[0].endpoint == "static"
    assert router.match("GET", "/about")[0].endpoint == "page"
    assert router.match("GET", "/")[0].endpoint == "home"
    with pytest.raises(NotFound):
        router.match("GET", "/about/more")
