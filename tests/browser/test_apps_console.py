"""The apps pages in a real browser: headless Chromium against gunicorn, minicloud on the Kubernetes stand-in.

Deploy an app from the form (a bad image answered under its field, in Korean), see its detail page with the
URL and status, run the queued deploy with an in-process worker and read the manifests underneath, scale it,
and delete it only once the dialog is confirmed. Screenshots go to screenshots/.
"""
from __future__ import annotations

import os
import re

import pytest
from compute_fixtures import run_ready_jobs
from kube_standin import kube_standin
from serving import serve_app
from test_console_flow import browser, new_page, shot, sign_up_and_log_in  # noqa: F401 - browser: a fixture

from minicloud.jobs.worker import Worker
from minicloud.services import Services

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def kube_server(database_url, tmp_path_factory):
    """The Kubernetes stand-in, and gunicorn serving minicloud with KUBECONFIG pointing at it."""
    home = tmp_path_factory.mktemp("home")
    with kube_standin(tmp_path_factory.mktemp("kube")) as kube:
        env = dict(os.environ, DATABASE_URL=database_url, MINICLOUD_AUTH_BCRYPT_COST="4",
                   MINICLOUD_AUTH_JWT_SECRET="browser-test-secret-" + "k" * 40,
                   MINICLOUD_SERVER_DEFAULT_LANGUAGE="ko", KUBECONFIG=str(kube.kubeconfig_path), HOME=str(home))
        env.pop("KUBERNETES_SERVICE_HOST", None)
        with serve_app(env, tmp_path_factory.mktemp("gunicorn-apps"), workers=2) as served:
            yield served.base_url, kube


@pytest.fixture
def work(config, clean_db, kube_server, monkeypatch, tmp_path):
    """Run the queued app jobs in this process (the served console has no worker of its own)."""
    monkeypatch.setenv("KUBECONFIG", str(kube_server[1].kubeconfig_path))
    monkeypatch.setenv("HOME", str(tmp_path))
    config = config.with_overrides({"network.enforcement": "off"})  # real backends, but not the host's networks
    services = Services.from_config(config)
    worker = Worker(config, services, name="browser-worker")

    yield lambda: run_ready_jobs(worker, clean_db)
    services.close()


def test_deploy_read_the_manifests_scale_and_delete(kube_server, browser, clean_db, work):  # noqa: F811
    from playwright.sync_api import expect

    server, kube = kube_server
    page = new_page(browser, "ko-KR")
    sign_up_and_log_in(page, server, "deployer", "App Student")
    expect(page.locator('[data-card="apps"] #card-apps-total')).to_have_text("0")

    page.get_by_role("link", name="앱", exact=True).click()
    expect(page.locator("h1")).to_have_text("앱")
    expect(page.locator(".empty-state")).to_contain_text("아직 앱이 없습니다")
    page.get_by_role("link", name="앱 배포하기").click()
    expect(page).to_have_url(server + "/apps/new")

    # a bad image reference: the service's answer under the field, what was typed kept
    page.fill("#name", "hello-web")
    page.fill("#image", "Not An Image!!")
    page.fill("#port", "8080")
    page.select_option("#size", "small")
    page.fill("#replicas", "2")
    page.fill("#env", "GREETING=hello")
    page.get_by_role("button", name="배포", exact=True).click()
    expect(page.locator("#image-error")).not_to_be_empty()
    expect(page.locator("#name")).to_have_value("hello-web")
    shot(page, "apps-01-image-error-ko")

    page.fill("#image", "nginx:1.27")
    page.get_by_role("button", name="배포", exact=True).click()
    expect(page).to_have_url(re.compile(re.escape(server) + r"/apps/[0-9a-f-]{36}$"))
    detail = page.url
    expect(page.locator("#status")).to_have_text("대기 중")
    expect(page.locator("#app-url")).to_contain_text("hello-web")
    shot(page, "apps-02-pending-ko")

    assert work() >= 1  # the deploy job applies the manifests to the stand-in
    page.goto(detail)
    page.get_by_text("minicloud가 내부에서 한 일").click()
    expect(page.locator("#manifests")).to_contain_text("kind: Deployment")
    expect(page.locator("#manifests")).to_contain_text("image: nginx:1.27")
    expect(page.locator("#manifests")).to_contain_text("GREETING")
    shot(page, "apps-03-underneath-ko")

    page.fill("#scale-replicas", "3")
    page.get_by_role("button", name="복제본 변경").click()
    expect(page).to_have_url(detail)
    expect(page.locator("#replicas")).to_contain_text("/ 3")

    page.get_by_role("button", name="삭제", exact=True).click()  # asks first: cancel sends nothing
    expect(page.locator("#confirm-dialog h2")).to_have_text("앱 hello-web을(를) 삭제할까요?")
    page.locator("#confirm-dialog-cancel").click()
    expect(page).to_have_url(detail)
    page.get_by_role("button", name="삭제", exact=True).click()
    # the scale job finishes while the question is open: the live page must not swap the form being confirmed
    work()
    page.wait_for_timeout(1000)  # time for the change event and a refresh, were the page to make one now
    deployment = next(o for path, o in kube.objects.items() if "/deployments/" in path)
    assert deployment["spec"]["replicas"] == 3
    page.locator("#confirm-dialog-ok").click()
    expect(page).to_have_url(server + "/apps")
    expect(page.locator("#flash")).to_have_text("앱 hello-web을(를) 삭제합니다.")
    work()
    assert not [path for path in kube.objects if "/deployments/" in path]
    page.close()
