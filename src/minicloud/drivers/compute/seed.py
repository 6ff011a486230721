"""The NoCloud seed: cloud-init's meta-data, user-data and network-config, and the ISO that carries them.

cloud-init's NoCloud data source looks for a filesystem labelled ``cidata`` with the files
``meta-data``, ``user-data`` and (optionally) ``network-config`` at its root. minicloud renders
the three files from ``configs/cloud-init/*.j2`` and packs them into a small ISO 9660 image with
pycdlib (Joliet and Rock Ridge names, so the lower-case names with dashes survive).

The user's own user-data is combined with ours:

* ``#cloud-config`` — parsed and merged into our cloud-config: mappings are merged, lists are
  appended after ours (``runcmd``, ``packages``, ``write_files``, ``users`` ...), for single
  values the user's wins except ``hostname``/``fqdn`` (always the mini PC's name);
* a script (``#!``) or another cloud-init part type (``#include``, ``#cloud-boothook`` ...) —
  sent with our cloud-config as a MIME multipart message, each part with its own type.
"""
from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from pathlib import Path

import jinja2
import pycdlib
import yaml

from .base import ComputeError, InstanceSpec

TEMPLATES_DIR = Path(__file__).resolve().parents[4] / "configs" / "cloud-init"
VOLUME_ID = "cidata"

# The keys the platform owns: a user's cloud-config cannot change them.
PROTECTED_KEYS = ("hostname", "fqdn")

# First line of a user-data part -> its MIME subtype (text/<subtype>), as cloud-init knows them.
PART_TYPES = (
    ("#!", "x-shellscript"),
    ("#include-once", "x-include-once-url"),
    ("#include", "x-include-url"),
    ("#cloud-boothook", "cloud-boothook"),
    ("#part-handler", "part-handler"),
    ("#cloud-config-archive", "cloud-config-archive"),
    ("#cloud-config-jsonp", "cloud-config-jsonp"),
)


@dataclass(frozen=True)
class SeedFiles:
    meta_data: str
    user_data: str
    network_config: str


def yaml_str(value: object) -> str:
    """A YAML double-quoted scalar (JSON strings are valid YAML), safe for any text."""
    return json.dumps(str(value), ensure_ascii=False)


def _env(templates_dir: Path) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir)),
        autoescape=False,  # YAML, not HTML: values go through yaml_str instead
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["yaml_str"] = yaml_str
    return env


def default_mac(domain_name: str) -> str:
    """A stable MAC for a domain (QEMU's 52:54:00 prefix), so retries and re-renders agree."""
    digest = hashlib.sha256(domain_name.encode()).digest()
    return "52:54:00:%02x:%02x:%02x" % (digest[0], digest[1], digest[2])


def render_seed(spec: InstanceSpec, mac: str | None = None, templates_dir: Path | str | None = None) -> SeedFiles:
    """Render meta-data, user-data (with the user's own merged in) and network-config for ``spec``."""
    env = _env(Path(templates_dir) if templates_dir else TEMPLATES_DIR)
    mac = (mac or spec.nic.mac or default_mac(spec.domain_name)).lower()
    context = {
        "instance_id": spec.instance_id,
        "hostname": spec.hostname,
        "user": spec.image.default_user,
        "ssh_keys": [k.strip() for k in spec.ssh_keys if k and k.strip()],
        "password_hash": spec.password_hash,
        "mac": mac,
        "nic_mode": spec.nic.mode,
        "ip": spec.nic.ip or "",
    }
    meta_data = env.get_template("meta-data.j2").render(context)
    ours = env.get_template("user-data.j2").render(context)
    network_config = env.get_template("network-config.j2").render(context)
    return SeedFiles(meta_data=meta_data, user_data=combine_user_data(ours, spec.user_data),
                     network_config=network_config)


def combine_user_data(ours: str, theirs: str | None) -> str:
    """Our ``#cloud-config`` plus the user's user-data (see the module docstring for the rules)."""
    if theirs is None or not theirs.strip():
        return ours
    text = theirs.lstrip("\ufeff")
    first = text.lstrip().split("\n", 1)[0].strip()
    if first.startswith("#cloud-config") and not first.startswith(("#cloud-config-archive", "#cloud-config-jsonp")):
        return _merge_cloud_config(ours, text)
    for prefix, subtype in PART_TYPES:
        if first.startswith(prefix):
            return _multipart(ours, text, subtype)
    raise ComputeError("user-data must start with '#cloud-config' or be a script starting with '#!'.")


def _merge_cloud_config(ours: str, theirs: str) -> str:
    try:
        base = yaml.safe_load(ours) or {}
        extra = yaml.safe_load(theirs)
    except yaml.YAMLError as exc:
        raise ComputeError(f"user-data is not valid cloud-config YAML: {exc}") from None
    if extra is None:
        return ours
    if not isinstance(extra, dict):
        raise ComputeError("user-data '#cloud-config' must be a YAML mapping (key: value lines).")
    for key in PROTECTED_KEYS:
        extra.pop(key, None)
    merged = merge_config(base, extra)
    body = yaml.safe_dump(merged, sort_keys=False, default_flow_style=False, allow_unicode=True, width=1000)
    return ("#cloud-config\n"
            "# minicloud's cloud-config with your own merged in (lists appended, mappings merged).\n"
            + body)


def merge_config(base: object, extra: object) -> object:
    """Merge ``extra`` into ``base``: dicts recursively, lists appended, otherwise ``extra`` wins."""
    if isinstance(base, dict) and isinstance(extra, dict):
        out = dict(base)
        for key, value in extra.items():
            out[key] = merge_config(base[key], value) if key in base else value
        return out
    if isinstance(base, list) and isinstance(extra, list):
        return base + extra
    return extra


def _text_part(text: str, subtype: str, filename: str) -> MIMEText:
    charset = "us-ascii" if text.isascii() else "utf-8"
    part = MIMEText(text, subtype, charset)
    part.add_header("Content-Disposition", "attachment", filename=filename)
    return part


def _multipart(ours: str, theirs: str, subtype: str) -> str:
    message = MIMEMultipart()
    message.attach(_text_part(ours, "cloud-config", "minicloud.cfg"))
    message.attach(_text_part(theirs, subtype, "user-data" if subtype != "x-shellscript" else "user-script.sh"))
    return message.as_string()


def build_iso(files: SeedFiles) -> bytes:
    """The NoCloud seed as ISO 9660 bytes (volume id ``cidata``; Joliet and Rock Ridge file names)."""
    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=3, joliet=3, rock_ridge="1.09", vol_ident=VOLUME_ID)
    for iso_name, name, text in (("METADATA.;1", "meta-data", files.meta_data),
                                 ("USERDATA.;1", "user-data", files.user_data),
                                 ("NETWORKC.;1", "network-config", files.network_config)):
        data = text.encode("utf-8")
        iso.add_fp(io.BytesIO(data), len(data), "/" + iso_name, rr_name=name, joliet_path="/" + name)
    out = io.BytesIO()
    iso.write_fp(out)
    iso.close()
    return out.getvalue()


def read_iso(data: bytes) -> dict[str, str]:
    """The files of a seed ISO by their Rock Ridge names (used by tests and the "underneath" panel)."""
    iso = pycdlib.PyCdlib()
    iso.open_fp(io.BytesIO(data))
    try:
        out = {}
        for child in iso.list_children(rr_path="/"):
            if child.is_dot() or child.is_dotdot():
                continue
            name = child.rock_ridge.name().decode()
            buf = io.BytesIO()
            iso.get_file_from_iso_fp(buf, rr_path="/" + name)
            out[name] = buf.getvalue().decode("utf-8")
        return out
    finally:
        iso.close()
