"""mcloud app …: deploy on the Kubernetes stand-in through the served app's worker, follow, scale, delete."""
from __future__ import annotations

import re

from waiting import wait_for


def _deployment(kube, name: str):
    return next((o for path, o in kube.objects.items() if "/deployments/" in path and name in path), None)


def test_deploy_scale_and_delete(signed_in):
    cli, kube = signed_in, signed_in.cloud.kube
    assert cli("app", "list").stdout.startswith("No apps yet")
    deployed = cli("app", "deploy", "--name", "hello-cli", "--image", "nginx:1.27", "--port", "80",
                   "--env", "GREETING=hi")
    assert deployed.exit_code == 0, deployed.output
    assert re.match(r"App hello-cli: pending — http", deployed.stdout), deployed.stdout

    deployment = wait_for(lambda: _deployment(kube, "hello-cli"), 30, "the worker to apply the Deployment")
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"
    deployment["status"] = {"replicas": 1, "readyReplicas": 1}   # the cluster says: it runs
    shown = cli("app", "show", "hello-cli")
    assert re.search(r"STATUS\s+running", shown.stdout) and re.search(r"REPLICAS\s+1/1", shown.stdout), shown.stdout
    assert "GREETING=hi" in shown.stdout
    listed = cli("app", "list")
    assert re.search(r"hello-cli\s+running\s+1/1\s+nginx:1.27", listed.stdout), listed.stdout

    redeployed = cli("app", "redeploy", "hello-cli", "--image", "nginx:1.28")
    assert redeployed.exit_code == 0 and "App hello-cli:" in redeployed.stdout, redeployed.output
    wait_for(lambda: _deployment(kube, "hello-cli")["spec"]["template"]["spec"]["containers"][0]["image"]
             == "nginx:1.28", 30, "the rollout of the new image")
    scaled = cli("app", "scale", "hello-cli", "0", "--wait", "--timeout", "60")
    assert scaled.exit_code == 0, scaled.output
    assert "App hello-cli: stopped" in scaled.stdout
    assert _deployment(kube, "hello-cli")["spec"]["replicas"] == 0
    assert cli("app", "logs", "hello-cli").exit_code == 0

    deleted = cli("app", "delete", "hello-cli", "--yes", "--wait", "--timeout", "60")
    assert deleted.exit_code == 0, deleted.output
    assert "Deleted app hello-cli." in deleted.stdout
    assert _deployment(kube, "hello-cli") is None
    assert cli.json("app", "list") == []


def test_a_bad_image_is_refused_in_korean(signed_in):
    signed_in.lang = "ko"
    bad = signed_in("app", "deploy", "--name", "x", "--image", "Not An Image!!", "--port", "80")
    assert bad.exit_code == 1
    assert bad.stderr.startswith("오류:") and re.search(r"\bimage: \S", bad.stderr), bad.stderr
    usage = signed_in("app", "deploy", "--name", "x", "--image", "nginx", "--port", "80", "--env", "NOVALUE")
    assert usage.exit_code == 2 and "NAME=value" in usage.output
