"""The 미니 PC console pages: list, the rental form limited by the quota, detail with actions and underneath."""
import re

import pytest
from compute_fixtures import compute_overrides
from test_pages import html, page_login, post_form


KO = {"Accept-Language": "ko"}
EN_HEADERS = {"Accept-Language": "en"}


@pytest.fixture
def config(config):
    return compute_overrides(config)


@pytest.fixture
def alice(client, auth):
    user = auth.user("alice")
    page_login(client, password="correct-horse")
    return user


def test_empty_list_offers_to_rent(client, alice, compute):
    page = html(client.get("/mini-pcs", headers={"Accept-Language": "ko"}))
    assert "<h1>미니 PC</h1>" in page and "미니 PC 대여하기" in page and "아직 미니 PC가 없습니다" in page


def test_form_shows_specs_and_disables_what_the_quota_cannot_hold(client, alice, compute, services):
    services.quotas.set_limits(alice.personal_project, {"vcpus": 2})
    page = html(client.get("/mini-pcs/new", headers={"Accept-Language": "en"}))
    assert "1 vCPU · 512 MiB · 5 GiB" in page  # nano
    large = re.search(r'<input type="radio" name="template_id" value="%s"[^>]*>' % compute["tid"]("large"), page)
    nano = re.search(r'<input type="radio" name="template_id" value="%s"[^>]*>' % compute["tid"]("nano"), page)
    assert "disabled" in large.group(0) and "disabled" not in nano.group(0)
    assert "Left in your quota: 5 mini PCs, 2 vCPUs" in page


def test_missing_name_is_shown_under_the_field(client, alice, compute):
    response = post_form(client, "/mini-pcs", {"name": "", "template_id": compute["tid"]("nano")},
                         headers={"Accept-Language": "ko"})
    assert response.status_code == 422
    assert "미니 PC 이름을 입력해주세요." in html(response)


def test_what_the_service_refuses_is_shown_under_its_field(client, alice, compute, services, tmp_path):
    disk = tmp_path / "big.qcow2"
    disk.write_bytes(b"QFI\xfb")
    big = services.images.create({"name": "big", "disk_path": str(disk), "min_disk_gib": 50})
    response = post_form(client, "/mini-pcs", {"name": "pc1", "template_id": compute["tid"]("nano"),
                                               "image_id": str(big["id"])}, headers={"Accept-Language": "ko"})
    assert response.status_code == 422
    assert "이 이미지에는 최소 50 GiB 디스크가 필요합니다." in html(response)


def test_quota_exceeded_is_shown_on_the_form(client, alice, compute, services):
    services.quotas.set_limits(alice.personal_project, {"instances": 0})
    response = post_form(client, "/mini-pcs", {"name": "pc1", "template_id": compute["tid"]("nano")},
                         headers={"Accept-Language": "ko"})
    assert response.status_code == 403
    assert "할당된 리소스를 초과하여 미니 PC 대여가 불가능합니다." in html(response)


def test_rent_then_act_from_the_detail_page(client, alice, compute, cloud, work):
    created = post_form(client, "/mini-pcs", {"name": "web1", "template_id": compute["tid"]("nano"),
                                              "password": "secret-pass-1", "user_data": "#cloud-config\nruncmd: [ls]"})
    assert created.status_code == 303
    detail_url = created.headers["Location"]
    pending = html(client.get(detail_url, headers={"Accept-Language": "en"}))
    assert "Pending" in pending and '<meta http-equiv="refresh"' in pending  # refreshes itself while busy
    work()
    running = html(client.get(detail_url, headers={"Accept-Language": "en"}))
    assert "Running" in running and '<meta http-equiv="refresh"' not in running
    assert "ssh -p 22" in running  # how to connect
    assert "Domain XML" in running and "create(" in running  # the underneath panel
    assert "secret-pass-1" not in running
    listing = html(client.get("/mini-pcs", headers={"Accept-Language": "en"}))
    assert "web1" in listing and "Running" in listing
    stopped = post_form(client, f"{detail_url}/action", {"action": "stop"})
    assert stopped.status_code == 303
    work()
    page = html(client.get(detail_url, headers={"Accept-Language": "en"}))
    assert "Stopped" in page and 'name="template_id"' in page  # resize offered when stopped
    resized = post_form(client, f"{detail_url}/action", {"action": "resize", "template_id": compute["tid"]("small")})
    assert resized.status_code == 303
    work()
    assert "1 vCPU · 1024 MiB" in html(client.get(detail_url, headers={"Accept-Language": "en"}))
    asked = post_form(client, f"{detail_url}/action", {"action": "delete"}, headers={"Accept-Language": "en"})
    assert asked.status_code == 200 and "Delete mini PC web1?" in html(asked)  # asks first: nothing deleted yet
    assert "Stopped" in html(client.get(detail_url, headers={"Accept-Language": "en"}))
    gone = post_form(client, f"{detail_url}/action", {"action": "delete", "confirmed": "1"})
    assert gone.status_code == 303 and gone.headers["Location"] == "/mini-pcs"


def test_an_action_the_state_forbids_is_a_409_page(client, alice, compute):
    created = post_form(client, "/mini-pcs", {"name": "web1", "template_id": compute["tid"]("nano")})
    response = post_form(client, created.headers["Location"] + "/action", {"action": "reboot"},
                         headers={"Accept-Language": "en"})
    assert response.status_code == 409 and "delete" in html(response)
    assert post_form(client, created.headers["Location"] + "/action", {"action": "explode"}).status_code == 400


def test_another_projects_mini_pc_is_not_found(client, alice, compute, auth):
    created = post_form(client, "/mini-pcs", {"name": "web1", "template_id": compute["tid"]("nano")})
    url = created.headers["Location"]
    bob = auth.user("bob")
    assert bob.get(url).status_code == 404


def test_typing_on_the_console_from_the_page_and_the_api(client, alice, compute, cloud, work):
    created = post_form(client, "/mini-pcs", {"name": "web1", "template_id": compute["tid"]("nano")})
    url = created.headers["Location"]
    instance_id = url.rsplit("/", 1)[1]
    early = alice.post(f"/api/v1/instances/{instance_id}/console", json={"input": "ls\r"})
    assert early.status_code == 409  # not running yet
    work()
    page = html(client.get(url, headers={"Accept-Language": "en"}))
    assert 'id="console-form"' in page and f"mc-{instance_id} login:" in page
    sent = post_form(client, f"{url}/console", {"input": "uname -a"})
    assert sent.status_code == 303 and sent.headers["Location"].endswith("#console")
    assert alice.post(f"/api/v1/instances/{instance_id}/console", json={"input": "hostname\r"}).status_code == 204
    assert cloud.typed[f"mc-{instance_id}"] == ["uname -a\r", "hostname\r"]
    assert alice.post(f"/api/v1/instances/{instance_id}/console", json={"input": "\x1b[6n\x1b[1;32mok\x1b[0m"}).status_code == 204
    output = alice.get(f"/api/v1/instances/{instance_id}/console").json["output"]
    assert output.endswith("uname -a\rhostname\rok")  # terminal control sequences are not shown
    assert auth_other(client).get(f"/api/v1/instances/{instance_id}/console").status_code == 404


def auth_other(client):
    from conftest import Auth

    return Auth(client).user("mallory")


def test_the_list_has_row_actions_that_ask_before_a_delete_and_flash_what_was_done(client, alice, compute, work):
    created = post_form(client, "/mini-pcs", {"name": "lab-pc", "template_id": compute["tid"]("nano")})
    assert "미니 PC lab-pc을(를) 만들고 있습니다." in html(client.get(created.headers["Location"], headers=KO))
    work()
    listing = html(client.get("/mini-pcs", headers=KO))
    row = re.search(r'<tr data-instance="[^"]+">.*?</tr>', listing, re.S).group(0)
    assert re.search(r'class="badge state-badge tone-ok state-running"[^>]*>.*?#i-ok.*?실행 중', row, re.S)
    assert 'value="stop"' in row and 'value="delete"' in row and 'value="start"' not in row
    assert 'data-confirm="미니 PC lab-pc을(를) 삭제할까요?"' in row and 'name="next" value="/mini-pcs"' in row
    action = re.search(r'action="(/mini-pcs/[^"]+/action)"', row).group(1)
    stopped = post_form(client, action, {"action": "stop", "next": "/mini-pcs"})
    assert stopped.status_code == 303 and stopped.headers["Location"] == "/mini-pcs"
    assert "Mini PC lab-pc is stopping." in html(client.get("/mini-pcs", headers=EN_HEADERS))
    work()
    asked = post_form(client, action, {"action": "delete", "next": "//evil.example"}, headers=KO)
    page = html(asked)
    assert asked.status_code == 200 and "미니 PC lab-pc을(를) 삭제할까요?" in page
    assert 'id="confirm-cancel"' in page and 'href="/mini-pcs/' in page and "evil.example\" id" not in page
    assert "lab-pc" in html(client.get("/mini-pcs", headers=KO))  # nothing deleted yet
    gone = post_form(client, action, {"action": "delete", "confirmed": "1"})
    assert gone.status_code == 303 and gone.headers["Location"] == "/mini-pcs"
    assert "미니 PC lab-pc을(를) 삭제합니다." in html(client.get("/mini-pcs", headers=KO))
