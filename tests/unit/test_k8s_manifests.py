"""Every manifest the templates in configs/k8s/ can produce, validated offline.

kubernetes-validate (strict: misspelled fields fail) checks them against the official schemas of
the Kubernetes minor the lab's k3s runs; our own checks cover what the schemas do not: RFC 1123
names, host names, port ranges, pathType, the ingress class, the Service type.
"""
from __future__ import annotations

import itertools
import re

import kubernetes_validate
import pytest
import yaml

from minicloud.drivers.containers.base import AppSpec, ProjectSpec
from minicloud.drivers.containers.manifests import ManifestRenderer, ManifestSettings, yaml_quote

K8S_VERSION = "1.31"
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
SIZES = [("250m", "256Mi"), ("500m", "512Mi"), ("1", "1Gi"), ("2", "2Gi")]
TRICKY_ENV = {
    "QUOTES": 'say "hi" and \'bye\'',
    "COLON": "key: value # not a comment",
    "NEWLINES": "line one\nline two\r\n",
    "YAML_LOOKALIKES": "yes",
    "NUMBER": "0123",
    "EMPTY": "",
    "BRACES": "{a: [1, 2]} & *anchor !tag %x @y `z`",
    "BACKSLASH": "C:\\path\\to\\n",
    "UNICODE": "안녕하세요 😀 \u2028 \x00 \x7f",
    "TEMPLATE": "{{ settings.tls_secret }} {% raw %}",
}
SETTINGS = [ManifestSettings(), ManifestSettings(tls_secret="apps-wildcard-tls", ingress_class="nginx-internal",
                                                 image_pull_policy="Always", base_domain="apps.lab.example",
                                                 ingress_namespace="ingress-system")]
PROJECT = ProjectSpec(namespace="mc-0123456789ab", project_id="0123456789ab4cde8f0123456789abcd",
                      project_name='My "demo": project\n', cpu_limit="4", memory_limit="8Gi", max_pods=20)


def _app(replicas: int, size: tuple[str, str], env: dict[str, str]) -> AppSpec:
    return AppSpec(app_id="6f1c2a9e-8d3b-4c55-9a1e-2b7c0d4e5f60", namespace=PROJECT.namespace,
                   k8s_name="my-web-app-6f1c2a", host="my-web-app.apps.minicloud.test",
                   image="registry.example.com:5000/team/web:1.2.3", port=8080, replicas=replicas,
                   cpu=size[0], memory=size[1], env=env)


APP_CASES = [(settings, _app(replicas, size, env)) for settings, replicas, size, env in itertools.product(
    SETTINGS, [0, 1, 7], SIZES, [{}, TRICKY_ENV])]


def _all_manifests() -> list[tuple[ManifestSettings, AppSpec | None, dict]]:
    cases = []
    for settings in SETTINGS:
        for manifest in ManifestRenderer(settings).render_project(PROJECT):
            cases.append((settings, None, manifest))
    for settings, app in APP_CASES:
        for manifest in ManifestRenderer(settings).render_app(app):
            cases.append((settings, app, manifest))
    return cases


ALL = _all_manifests()


def _ids(case: tuple) -> str:
    settings, app, manifest = case
    if app is None:
        return f"{manifest['kind']}-{settings.ingress_class}"
    return (f"{manifest['kind']}-{settings.ingress_class}-r{app.replicas}-{app.cpu}-"
            f"{'env' if app.env else 'noenv'}")


@pytest.mark.parametrize("case", ALL, ids=[_ids(c) for c in ALL])
def test_manifest_is_valid_for_the_lab_kubernetes_version(case: tuple) -> None:
    _, _, manifest = case
    assert kubernetes_validate.validate(manifest, K8S_VERSION, strict=True) == K8S_VERSION


@pytest.mark.parametrize("case", ALL, ids=[_ids(c) for c in ALL])
def test_names_and_labels_are_rfc1123(case: tuple) -> None:
    _, _, manifest = case
    meta = manifest["metadata"]
    assert DNS_LABEL.match(meta["name"]) and len(meta["name"]) <= 63
    if manifest["kind"] != "Namespace":
        assert DNS_LABEL.match(meta["namespace"]) and len(meta["namespace"]) <= 63
    for value in (meta.get("labels") or {}).values():
        assert len(value) <= 63 and re.match(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$", value)
    assert meta["labels"]["app.kubernetes.io/managed-by"] == "minicloud"


def test_project_manifests_come_in_apply_order_with_the_projects_quota() -> None:
    namespace, quota, limits, policy = ManifestRenderer(ManifestSettings()).render_project(PROJECT)
    assert [m["kind"] for m in (namespace, quota, limits, policy)] == [
        "Namespace", "ResourceQuota", "LimitRange", "NetworkPolicy"]
    assert namespace["metadata"]["labels"]["minicloud.io/project-id"] == PROJECT.project_id
    assert namespace["metadata"]["annotations"]["minicloud.io/project-name"] == PROJECT.project_name
    assert quota["spec"]["hard"] == {"requests.cpu": "4", "requests.memory": "8Gi", "limits.cpu": "4",
                                     "limits.memory": "8Gi", "pods": "20"}
    assert limits["spec"]["limits"][0]["max"] == {"cpu": "4", "memory": "8Gi"}


@pytest.mark.parametrize("settings", SETTINGS, ids=["defaults", "custom"])
def test_network_policy_admits_only_the_ingress_controller_and_the_namespace(settings: ManifestSettings) -> None:
    policy = ManifestRenderer(settings).render_project(PROJECT)[3]
    assert policy["spec"]["podSelector"] == {} and policy["spec"]["policyTypes"] == ["Ingress"]
    sources = policy["spec"]["ingress"][0]["from"]
    assert sources == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": settings.ingress_namespace}}},
        {"podSelector": {}},
    ]


@pytest.mark.parametrize("settings,app", APP_CASES)
def test_app_manifests_say_what_the_app_asked_for(settings: ManifestSettings, app: AppSpec) -> None:
    deployment, service, ingress = ManifestRenderer(settings).render_app(app)
    assert [m["kind"] for m in (deployment, service, ingress)] == ["Deployment", "Service", "Ingress"]

    assert deployment["spec"]["replicas"] == app.replicas
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert selector == {"minicloud.io/app-id": app.app_id}
    assert selector.items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["image"] == app.image
    assert container["imagePullPolicy"] == settings.image_pull_policy
    assert container["imagePullPolicy"] in ("Always", "IfNotPresent", "Never")
    assert container["ports"][0]["containerPort"] == app.port
    assert container["resources"]["requests"] == container["resources"]["limits"] == {
        "cpu": app.cpu, "memory": app.memory}
    assert container["readinessProbe"]["tcpSocket"]["port"] == app.port
    assert {e["name"]: e["value"] for e in container.get("env", [])} == app.env

    assert service["spec"]["type"] == "ClusterIP"
    assert service["spec"]["selector"] == selector
    (port,) = service["spec"]["ports"]
    assert port["port"] == 80 and port["targetPort"] == app.port
    for number in (port["port"], port["targetPort"], container["ports"][0]["containerPort"]):
        assert 1 <= number <= 65535

    assert ingress["spec"]["ingressClassName"] == settings.ingress_class
    assert "annotations" not in ingress["metadata"]
    (rule,) = ingress["spec"]["rules"]
    assert rule["host"] == app.host and len(app.host) <= 253 and DNS_SUBDOMAIN.match(rule["host"])
    (path,) = rule["http"]["paths"]
    assert path["pathType"] in ("Exact", "Prefix", "ImplementationSpecific") and path["pathType"] == "Prefix"
    assert path["path"] == "/"
    assert path["backend"]["service"] == {"name": service["metadata"]["name"], "port": {"number": 80}}
    if settings.tls_secret:
        assert ingress["spec"]["tls"] == [{"hosts": [app.host], "secretName": settings.tls_secret}]
    else:
        assert "tls" not in ingress["spec"]


def test_env_values_survive_exactly_however_tricky() -> None:
    deployment = ManifestRenderer(ManifestSettings()).render_app(_app(1, SIZES[0], TRICKY_ENV))[0]
    env = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {e["name"]: e["value"] for e in env} == TRICKY_ENV
    assert all(isinstance(e["value"], str) for e in env)   # "yes" and "0123" stay strings


@pytest.mark.parametrize("value", list(TRICKY_ENV.values()) + ["\t", "\ufeff", "\U0001f600", "a" * 5000])
def test_quoting_round_trips(value: str) -> None:
    assert yaml.safe_load(f"key: {yaml_quote(value)}\n") == {"key": value}
