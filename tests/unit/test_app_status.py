"""Status interpretation from Kubernetes objects (tests/fixtures/k8s, see its README)."""
import copy
import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from minicloud.i18n import translate
from minicloud.services.app_status import event_rows, interpret

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "k8s"
TIMEOUT = 120.0


def load(name: str):
    data = json.loads((FIXTURES / name).read_text())
    return data.get("items", data) if data.get("kind", "").endswith("List") else data


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


NOW = at("2026-11-20T09:30:00Z")


def test_running_when_every_desired_replica_is_ready():
    status, key, details = interpret(load("deployment_running.json"), load("pods_running.json"),
                                     load("events_running.json"), NOW, TIMEOUT)
    assert status == "RUNNING" and key == "apps.status.running"
    assert details == {"desired": 2, "ready": 2}


@pytest.mark.parametrize("pods,reason", [("pods_errimagepull.json", "ErrImagePull"),
                                         ("pods_imagepullbackoff.json", "ImagePullBackOff"),
                                         ("pods_invalidimagename.json", "InvalidImageName")])
def test_image_not_found(pods, reason):
    status, key, details = interpret(load("deployment_progressing.json"), load(pods), load("events_imagepull.json"),
                                     NOW, TIMEOUT)
    assert status == "IMAGE_NOT_FOUND" and details["reason"] == reason
    assert translate("ko", key) == "컨테이너 이미지를 찾을 수 없습니다. 이미지 주소를 확인해주세요."
    assert "image could not be found" in translate("en", key)


@pytest.mark.parametrize("events", ["events_failedscheduling.json", "events_failedscheduling_memory.json"])
def test_insufficient_resources_after_the_pending_timeout(events):
    pods = load("pods_pending_unschedulable.json")
    created = at(pods[0]["metadata"]["creationTimestamp"])
    status, key, details = interpret(load("deployment_progressing.json"), pods, load(events),
                                     created + timedelta(seconds=TIMEOUT + 1), TIMEOUT)
    assert status == "INSUFFICIENT_RESOURCES"
    assert translate("ko", key) == "클러스터 리소스가 부족하여 배포할 수 없습니다."
    assert details["message"].startswith("0/1 nodes are available: 1 Insufficient")


def test_pending_before_the_timeout_even_with_failed_scheduling():
    pods = load("pods_pending_unschedulable.json")
    created = at(pods[0]["metadata"]["creationTimestamp"])
    status, _, _ = interpret(load("deployment_progressing.json"), pods, load("events_failedscheduling.json"),
                             created + timedelta(seconds=30), TIMEOUT)
    assert status == "PENDING"


def test_pending_past_the_timeout_without_a_resource_reason_stays_pending():
    pods = load("pods_pending_unschedulable.json")
    events = load("events_failedscheduling.json")
    events[0]["message"] = "0/1 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/disk-pressure: }."
    status, _, _ = interpret(load("deployment_progressing.json"), pods, events, NOW + timedelta(hours=1), TIMEOUT)
    assert status == "PENDING"


def test_crashing_on_crash_loop_back_off():
    status, key, details = interpret(load("deployment_progressing.json"), load("pods_crashloop.json"),
                                     load("events_crashloop.json"), NOW, TIMEOUT)
    assert status == "CRASHING" and details["reason"] == "CrashLoopBackOff" and details["restarts"] == 5
    assert "keeps crashing" in translate("en", key)


def test_stopped_at_zero_replicas():
    assert interpret(load("deployment_stopped.json"), [], [], NOW, TIMEOUT)[0] == "STOPPED"


def test_missing_when_the_deployment_is_gone():
    status, key, _ = interpret(None, [], [], NOW, TIMEOUT)
    assert status == "MISSING" and "Redeploy" in translate("en", key)


def test_pending_while_containers_start():
    deployment = load("deployment_progressing.json")
    pods = copy.deepcopy(load("pods_running.json"))[:1]
    pods[0]["status"]["containerStatuses"][0].update(ready=False, state={"waiting": {"reason": "ContainerCreating"}})
    assert interpret(deployment, pods, [], NOW, TIMEOUT)[0] == "PENDING"


def test_event_rows_newest_first():
    rows = event_rows(load("events_imagepull.json"))
    assert rows[0]["at"] >= rows[-1]["at"]
    assert {"type", "reason", "message", "at", "object"} <= set(rows[0])
    assert any(r["reason"] == "Failed" and r["type"] == "Warning" for r in rows)


def test_every_status_message_exists_in_both_languages():
    from minicloud.services.app_status import MESSAGE_KEYS
    for key in MESSAGE_KEYS.values():
        assert translate("ko", key) != key and translate("en", key) != key
