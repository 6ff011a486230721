"""The rules of an app request that need neither the database nor the cluster: image references,
environment variables and Kubernetes resource quantities."""
from __future__ import annotations

import re

# [registry[:port]/]path[:tag][@sha256:digest], the path in lower case (the distribution reference grammar).
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
IMAGE = re.compile(r"^(?:(?P<registry>[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::[0-9]{1,5})?)/)?"
                   rf"(?P<path>{_COMPONENT}(?:/{_COMPONENT})*)"
                   r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?(?:@sha256:(?P<digest>[a-f0-9]{64}))?$")
ENV_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MAX_ENV = 100
_QUANTITY = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(m|Ki|Mi|Gi|Ti)?$")


def valid_image(image) -> bool:
    """A reference a container runtime accepts; as Docker does, a first component is a registry only
    when it holds "." or ":" or is "localhost" (otherwise it is part of the lower-case path)."""
    if not isinstance(image, str) or not 0 < len(image) <= 255:
        return False
    match = IMAGE.match(image)
    if match is None:
        return False
    registry = match.group("registry")
    if registry and not ("." in registry or ":" in registry or registry == "localhost"):
        return re.fullmatch(_COMPONENT, registry) is not None
    return True


def millicores(quantity: str) -> int:
    number, unit = _QUANTITY.match(quantity).groups()
    return int(float(number) * (1 if unit == "m" else 1000))


def mebibytes(quantity: str) -> int:
    number, unit = _QUANTITY.match(quantity).groups()
    factor = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024, "Ti": 1024 * 1024}.get(unit or "", 1 / (1024 * 1024))
    return int(float(number) * factor)


def is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def env_problem(env) -> str | None:
    if not isinstance(env, dict) or len(env) > MAX_ENV:
        return "apps.env_invalid"
    for key, value in env.items():
        if not ENV_KEY.match(key):
            return "apps.env_key_invalid"
        if not isinstance(value, (str, int, float)) or isinstance(value, bool) or "\x00" in str(value):
            return "apps.env_value_invalid"
    return None
