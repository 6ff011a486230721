"""The account console through WSGI: key pairs, API keys, projects and members, renaming a mini PC, the image
and key pair pickers of the rental form, and the dashboard's used / limit. Every refused form comes back with
the message in the page's language and what was typed still in it."""
from __future__ import annotations

import html as html_lib
import re
import uuid

import pytest
from compute_fixtures import compute_overrides
from test_pages import html, page_login, post_form

from minicloud.services.keypairs import generate_ed25519

KO = {"Accept-Language": "ko"}
EN = {"Accept-Language": "en"}


@pytest.fixture
def config(config):
    return compute_overrides(config)


@pytest.fixture
def alice(client, auth):
    user = auth.user("alice")
    page_login(client, password="correct-horse")
    return user


def public_key(comment="alice@laptop") -> str:
    return generate_ed25519(comment)[1]


def redirected(response, path: str) -> str:
    """The 303's location, which must lead to ``path``."""
    assert response.status_code == 303, html(response)[:2000]
    location = response.headers["Location"]
    assert location.split("?")[0] == path, location
    return location


# -- key pairs -------------------------------------------------------------------------------------
def test_importing_a_key_lists_it_and_says_so(client, alice):
    key = public_key()
    location = redirected(post_form(client, "/key-pairs", {"name": "laptop", "public_key": key}), "/key-pairs")
    page = html(client.get(location, headers=KO))
    assert "키 페어를 가져왔습니다: laptop" in page
    row = re.search(r'<tr data-keypair="laptop">.*?</tr>', page, re.S).group(0)
    assert "SHA256:" in row and "ssh-ed25519" in row
    assert alice.get("/api/v1/keypairs").json["items"][0]["name"] == "laptop"


@pytest.mark.parametrize("lang, headers, said", [
    ("ko", KO, "올바른 OpenSSH 공개 키가 아닙니다"),
    ("en", EN, "not a valid OpenSSH public key"),
])
def test_a_bad_public_key_is_refused_in_the_pages_language_and_nothing_is_lost(client, alice, lang, headers, said):
    response = post_form(client, "/key-pairs", {"name": "laptop", "public_key": "ssh-ed25519 not-base64!"},
                         headers=headers)
    assert response.status_code == 422
    page = html(response)
    assert said.lower() in page.lower()
    assert 'value="laptop"' in page and "ssh-ed25519 not-base64!</textarea>" in page
    assert alice.get("/api/v1/keypairs").json["items"] == []


def test_a_name_the_api_would_refuse_and_a_taken_name_are_said_by_the_form(client, alice):
    response = post_form(client, "/key-pairs", {"name": "my key", "public_key": public_key()}, headers=KO)
    assert response.status_code == 422
    assert "영문자나 숫자로 시작하고" in html(response) and 'value="my key"' in html(response)
    redirected(post_form(client, "/key-pairs", {"name": "laptop", "public_key": public_key()}), "/key-pairs")
    again = post_form(client, "/key-pairs", {"name": "laptop", "public_key": public_key()}, headers=EN)
    assert again.status_code == 409 and "already" in html(again) and "laptop" in html(again)
    empty = post_form(client, "/key-pairs/generate", {"name": ""}, headers=KO)
    assert empty.status_code == 422 and "키 페어 이름을 입력해주세요." in html(empty)


def test_a_key_imported_from_the_rental_form_comes_back_chosen_there(client, alice, compute):
    rental = html(client.get("/mini-pcs/new", headers=KO))
    assert 'href="/key-pairs?next=/mini-pcs/new"' in rental and "키 페어 추가하기" in rental
    form = html(client.get("/key-pairs?next=/mini-pcs/new", headers=KO))
    assert 'name="next" value="/mini-pcs/new"' in form
    response = post_form(client, "/key-pairs", {"name": "laptop", "public_key": public_key(), "next": "/mini-pcs/new"})
    location = redirected(response, "/mini-pcs/new")
    keypair_id = alice.get("/api/v1/keypairs").json["items"][0]["id"]
    assert location.endswith(f"keypair_id={keypair_id}")
    page = html(client.get(location, headers=KO))
    assert re.search(rf'<option value="{keypair_id}" selected>laptop \(SHA256:', page)


def test_an_outside_next_is_not_followed(client, alice):
    response = post_form(client, "/key-pairs", {"name": "laptop", "public_key": public_key(),
                                                "next": "//evil.example/"})
    redirected(response, "/key-pairs")


def test_a_generated_pair_offers_its_private_key_once_as_a_download(client, alice):
    response = post_form(client, "/key-pairs/generate", {"name": "made-here"}, headers=KO)
    assert response.status_code == 201 and response.headers["Cache-Control"] == "no-store"
    page = html(response)
    assert "개인 키는 지금 이 화면에서만 받을 수 있습니다." in page
    private = html_lib.unescape(re.search(r'name="private_key" value="([^"]+)"', page).group(1))
    assert private.startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    download = post_form(client, "/key-pairs/private-key", {"name": "made-here", "private_key": private})
    assert download.status_code == 200
    assert download.headers["Content-Disposition"] == 'attachment; filename="made-here.pem"'
    assert download.get_data(as_text=True) == private
    listed = html(client.get("/key-pairs"))
    assert "made-here" in listed and "PRIVATE KEY" not in listed
    stored = alice.get("/api/v1/keypairs").json["items"][0]
    assert "private_key" not in stored


def test_the_download_only_hands_back_a_private_key(client, alice):
    assert post_form(client, "/key-pairs/private-key", {"name": "x", "private_key": "<script>"}).status_code == 400
    assert post_form(client, "/key-pairs/private-key", {"name": "../x", "private_key": generate_ed25519("x")[0]}
                     ).status_code == 400


def test_deleting_a_key_pair(client, alice):
    redirected(post_form(client, "/key-pairs", {"name": "old", "public_key": public_key()}), "/key-pairs")
    keypair_id = alice.get("/api/v1/keypairs").json["items"][0]["id"]
    asked = post_form(client, f"/key-pairs/{keypair_id}/delete", {}, headers=EN)  # asks first, deletes nothing
    assert asked.status_code == 200 and 'name="confirmed"' in html(asked)
    assert len(alice.get("/api/v1/keypairs").json["items"]) == 1
    location = redirected(post_form(client, f"/key-pairs/{keypair_id}/delete", {"confirmed": "1"}), "/key-pairs")
    page = html(client.get(location, headers=EN))
    assert "Deleted the key pair old." in page and 'data-keypair="old"' not in page
    assert post_form(client, f"/key-pairs/{keypair_id}/delete", {}).status_code == 404


# -- API keys --------------------------------------------------------------------------------------
def test_an_api_key_is_shown_once_works_and_stops_working_when_revoked(client, alice):
    response = post_form(client, "/api-keys", {"name": "laptop cli"}, headers=KO)
    assert response.status_code == 201
    page = html(response)
    secret = re.search(r'id="new-key-secret"[^>]*value="(mck_[^"]+)"', page).group(1)
    assert "이 비밀 값은 지금 한 번만 보여 드립니다." in page
    assert client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    listed = html(client.get("/api-keys", headers=KO))
    assert secret not in listed and secret[:12] in listed and "laptop cli" in listed and "아직 안 씀" not in listed
    key_id = alice.get("/api/v1/api-keys").json["items"][0]["id"]
    asked = post_form(client, f"/api-keys/{key_id}/revoke", {}, headers=KO)  # asks first, revokes nothing
    assert asked.status_code == 200 and 'name="confirmed"' in html(asked)
    assert client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    location = redirected(post_form(client, f"/api-keys/{key_id}/revoke", {"confirmed": "1"}), "/api-keys")
    assert "API 키를 폐기했습니다: laptop cli" in html(client.get(location, headers=KO))
    assert client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401


@pytest.mark.parametrize("name, said", [("", "Please enter a name for the key."),
                                        ("x" * 65, "Please keep the key's name to 64 characters.")])
def test_a_bad_api_key_name_is_said_by_the_form(client, alice, name, said):
    response = post_form(client, "/api-keys", {"name": name}, headers=EN)
    assert response.status_code == 422
    assert said.replace("'", "&#39;") in html(response) and "mck_" not in html(response)
    assert alice.get("/api/v1/api-keys").json["items"] == []


# -- projects and members --------------------------------------------------------------------------
def create_project(client, name="team", description="") -> str:
    response = post_form(client, "/projects", {"name": name, "description": description})
    assert response.status_code == 303, html(response)
    match = re.fullmatch(r"/projects/([0-9a-f-]{36})\?done=project_created&name=.*", response.headers["Location"])
    assert match, response.headers["Location"]
    return match.group(1)


def test_projects_list_my_role_and_a_new_one_is_created_with_me_as_admin(client, alice):
    page = html(client.get("/projects", headers=KO))
    assert 'data-project="alice"' in page and "개인" in page and "관리자" in page
    project_id = create_project(client, "team", "for the lab")
    settings = html(client.get(f"/projects/{project_id}?done=project_created&name=team", headers=KO))
    assert "프로젝트를 만들었습니다: team" in settings and "for the lab" in settings
    quotas = re.search(r'<section class="card account-section account-quotas"(.*?)</section>', settings, re.S).group(1)
    assert re.search(r'data-quota="instances">.*?0 / 5', quotas, re.S) and "0 B / 10 GiB" in quotas
    assert {p["name"]: p["role"] for p in alice.me["projects"]}["team"] == "admin"


def test_a_refused_project_form_keeps_what_was_typed(client, alice):
    response = post_form(client, "/projects", {"name": "", "description": "my notes"}, headers=KO)
    assert response.status_code == 422
    assert "이름을 입력해주세요." in html(response) and 'value="my notes"' in html(response)
    create_project(client, "team")
    taken = post_form(client, "/projects", {"name": "TEAM", "description": "again"}, headers=EN)
    assert taken.status_code == 409 and 'value="again"' in html(taken) and "TEAM" in html(taken)


def test_renaming_a_project(client, alice):
    project_id = create_project(client, "team")
    create_project(client, "other")
    taken = post_form(client, f"/projects/{project_id}", {"name": "other", "description": "d"}, headers=KO)
    assert taken.status_code == 409
    assert "이미 같은 이름(&#34;other&#34;)의 프로젝트가 있습니다." in html(taken)
    assert 'id="rename-name" name="name" type="text" value="other"' in html(taken)
    location = redirected(post_form(client, f"/projects/{project_id}", {"name": "lab team", "description": "d"}),
                          f"/projects/{project_id}")
    page = html(client.get(location, headers=EN))
    assert "Renamed the project to lab team." in page and '<h1 id="project-title">lab team' in page
    assert alice.get(f"/api/v1/projects/{project_id}").json["name"] == "lab team"


def test_members_are_added_by_username_their_role_changed_and_removed(client, alice, auth):
    bob = auth.user("bob")
    page_login(client, password="correct-horse")  # the browser is alice's again
    project_id = create_project(client, "team")
    unknown = post_form(client, f"/projects/{project_id}/members", {"username": "nobody", "role": "viewer"},
                        headers=KO)
    assert unknown.status_code == 404
    page = html(unknown)
    assert '"nobody" 사용자가 없습니다.' in page.replace("&#34;", '"')
    assert 'value="nobody"' in page and '<option value="viewer" selected>' in page
    location = redirected(post_form(client, f"/projects/{project_id}/members", {"username": "bob", "role": "viewer"}),
                          f"/projects/{project_id}")
    assert "bob님을 멤버로 추가했습니다." in html(client.get(location, headers=KO))
    again = post_form(client, f"/projects/{project_id}/members", {"username": "bob", "role": "user"}, headers=EN)
    assert again.status_code == 409 and "already" in html(again)
    bob_id = next(m["user_id"] for m in alice.get(f"/api/v1/projects/{project_id}/members").json["items"]
                  if m["username"] == "bob")
    redirected(post_form(client, f"/projects/{project_id}/members/{bob_id}/role", {"role": "user"}),
               f"/projects/{project_id}")
    assert {p["name"]: p["role"] for p in bob.me["projects"]}["team"] == "user"
    alice_id = next(m["user_id"] for m in alice.get(f"/api/v1/projects/{project_id}/members").json["items"]
                    if m["username"] == "alice")
    owner = post_form(client, f"/projects/{project_id}/members/{alice_id}/role", {"role": "viewer"}, headers=KO)
    assert owner.status_code == 409 and "프로젝트 소유자는 관리자 역할을 유지해야 합니다." in html(owner)
    asked = post_form(client, f"/projects/{project_id}/members/{bob_id}/remove", {})  # asks first
    assert asked.status_code == 200 and "team" in {p["name"] for p in bob.me["projects"]}
    redirected(post_form(client, f"/projects/{project_id}/members/{bob_id}/remove", {"confirmed": "1"}),
               f"/projects/{project_id}")
    assert "team" not in {p["name"] for p in bob.me["projects"]}


def test_only_admins_manage_members(client, alice, auth, app):
    from conformance import ConformingClient

    project_id = create_project(client, "team")
    auth.user("bob")
    post_form(client, "/login", {"username": "alice", "password": "correct-horse"})
    redirected(post_form(client, f"/projects/{project_id}/members", {"username": "bob", "role": "user"}),
               f"/projects/{project_id}")
    bob_browser = ConformingClient(app)
    page_login(bob_browser, username="bob")
    page = html(bob_browser.get(f"/projects/{project_id}", headers=EN))
    assert "Only the project's admins can change members and roles.".replace("'", "&#39;") in page
    assert 'id="member-add"' not in page and 'id="project-rename"' not in page
    refused = post_form(bob_browser, f"/projects/{project_id}/members", {"username": "carol", "role": "admin"})
    assert refused.status_code == 403
    assert post_form(bob_browser, f"/projects/{project_id}", {"name": "mine"}).status_code == 403


def test_the_delete_page_shows_the_plan_before_the_button(client, alice, auth):
    project_id = create_project(client, "team")
    post_form(client, "/project", {"project_id": project_id})
    redirected(post_form(client, "/key-pairs", {"name": "lab-key", "public_key": public_key()}), "/key-pairs")
    page = html(client.get(f"/projects/{project_id}/delete", headers=KO))
    plan = re.search(r'<ol class="account-plan" id="delete-plan">(.*?)</ol>', page, re.S).group(1)
    assert re.search(r'data-kind="keypairs"><strong>키 페어 1개</strong>:\s*<span class="plan-item">lab-key', plan)
    assert 'data-kind="members"' in plan and 'data-kind="project"' in plan and 'data-kind="instances"' not in plan
    assert f'action="/projects/{project_id}/delete"' in page
    personal = alice.personal_project
    refused = client.get(f"/projects/{personal}/delete", headers=KO)
    assert refused.status_code == 409 and "개인 프로젝트는 삭제할 수 없습니다." in html(refused)


def test_the_rename_api_is_for_the_projects_admins(client, alice, auth):
    project = alice.post("/api/v1/projects", json={"name": "team"}).json
    renamed = alice.patch(f"/api/v1/projects/{project['id']}", json={"name": "squad", "description": "d"})
    assert renamed.status_code == 200 and renamed.json["name"] == "squad" and renamed.json["role"] == "admin"
    alice.post("/api/v1/projects", json={"name": "other"})
    taken = alice.patch(f"/api/v1/projects/{project['id']}", json={"name": "OTHER"})
    assert taken.status_code == 409 and taken.json["error"]["code"] == "name_taken"
    assert alice.patch(f"/api/v1/projects/{project['id']}", json={"name": ""}).status_code == 422
    bob = auth.user("bob")
    alice.post(f"/api/v1/projects/{project['id']}/members", json={"username": "bob", "role": "user"})
    assert bob.patch(f"/api/v1/projects/{project['id']}", json={"name": "bobs"}).status_code == 403
    assert bob.patch(f"/api/v1/projects/{uuid.uuid4()}", json={"name": "x"}).status_code == 404
    audit = alice.get("/api/v1/audit", project_id=project["id"]).json["items"]
    assert any(e["action"] == "projects.update" and e["target"] == project["id"] for e in audit)


# -- mini PCs: renaming, the rental form's pickers ------------------------------------------------
def rent(client, compute, name="web1") -> str:
    created = post_form(client, "/mini-pcs", {"name": name, "template_id": compute["tid"]("nano")})
    assert created.status_code == 303, html(created)
    return created.headers["Location"]


def test_renaming_a_mini_pc_from_its_page(client, alice, compute, work):
    detail = rent(client, compute, "web1")
    rent(client, compute, "web2")
    assert 'action="' + detail + '/rename"' not in html(client.get(detail))  # it refreshes itself while pending
    work()
    assert 'action="' + detail + '/rename"' in html(client.get(detail))
    bad = post_form(client, detail + "/rename", {"name": "web_1!"}, headers=KO)
    assert bad.status_code == 422
    page = html(bad)
    assert "영문자, 숫자, 하이픈(-)으로 1~63자를 입력해주세요." in page and 'value="web_1!"' in page
    taken = post_form(client, detail + "/rename", {"name": "web2"}, headers=EN)
    assert taken.status_code == 409 and "web2" in html(taken) and "already" in html(taken)
    location = redirected(post_form(client, detail + "/rename", {"name": "api-server"}), detail)
    page = html(client.get(location, headers=KO))
    assert "미니 PC 이름을 바꿨습니다: api-server" in page and "<h1>api-server" in page


def test_the_rental_form_offers_every_image_and_rents_the_chosen_one(client, alice, compute, services, tmp_path):
    disk = tmp_path / "alpine.qcow2"
    disk.write_bytes(b"QFI\xfb")
    other = services.images.create({"name": "alpine", "disk_path": str(disk), "os": "Alpine 3.20",
                                    "default_user": "alpine"})
    page = html(client.get("/mini-pcs/new", headers=KO))
    picker = re.search(r'<fieldset class="field" id="image-picker">(.*?)</fieldset>', page, re.S).group(1)
    assert "tiny" in picker and "alpine" in picker and "기본 사용자 alpine" in picker
    assert re.search(rf'value="{other["id"]}" checked', picker)  # the one a rental gets unasked: first by name
    assert not re.search(rf'value="{compute["image"]["id"]}" checked', picker)
    created = post_form(client, "/mini-pcs", {"name": "pc1", "template_id": compute["tid"]("nano"),
                                              "image_id": str(compute["image"]["id"])})
    assert created.status_code == 303
    instance_id = created.headers["Location"].rsplit("/", 1)[1]
    assert alice.get(f"/api/v1/instances/{instance_id}").json["image"]["name"] == "tiny"


def test_a_refused_rental_keeps_the_chosen_image(client, alice, compute, services, tmp_path):
    disk = tmp_path / "alpine.qcow2"
    disk.write_bytes(b"QFI\xfb")
    other = services.images.create({"name": "alpine", "disk_path": str(disk)})
    response = post_form(client, "/mini-pcs", {"name": "", "template_id": compute["tid"]("nano"),
                                               "image_id": str(other["id"])})
    assert response.status_code == 422
    assert re.search(rf'value="{other["id"]}" checked', html(response))


# -- the dashboard's quotas ------------------------------------------------------------------------
def test_the_dashboard_shows_what_is_used_of_each_limit(client, alice, compute, services):
    services.quotas.set_limits(alice.personal_project, {"instances": 3})
    rent(client, compute, "web1")
    page = html(client.get("/dashboard", headers=EN))
    card = re.search(r'<ul class="quota-bars" id="quota-bars">(.*?)</ul>', page, re.S).group(1)
    row = re.search(r'<li data-quota="instances">(.*?)</li>', card, re.S).group(1)
    assert "Mini PCs" in row and "1 / 3" in row and re.search(r'<meter min="0" max="3" value="1"', row)
    ram = re.search(r'<li data-quota="ram_mib">(.*?)</li>', card, re.S).group(1)
    assert "512 / 16384 MiB" in ram
    assert 'data-quota="bucket_bytes"' in card
    assert f'href="/projects/{alice.personal_project}#quotas"' in page
