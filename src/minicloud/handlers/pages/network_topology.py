"""The VPC topology drawing: a pure function from a small dict model to an inline SVG string.

The model (every value a user may have typed is escaped here, nothing is trusted)::

    {"vpc": {"name", "cidr"},
     "gateway": {"address"} | None,                   # the internet gateway, drawn above the VPC
     "labels": {"gateway", "public", "private", "free", "used", "empty", "title"},   # the page's language
     "subnets": [{"id", "name", "cidr", "used", "free", "public": bool,
                  "instances": [{"id", "name", "private_ip", "public_ip" | None, "state"}]}]}

The drawing: the gateway at the top, connected by lines to the public subnets (those whose route
table sends 0.0.0.0/0 to it); the VPC box holding the subnet boxes (up to three per row) with their
CIDR and used/free addresses; inside each subnet one node per mini PC with its private address (and
public address). The SVG scales with its container (viewBox, no fixed width).
"""
from __future__ import annotations

from markupsafe import Markup, escape

WIDTH = 960
PAD = 20
COLUMNS = 3
SUBNET_GAP = 20
SUBNET_HEAD = 62
NODE_HEIGHT = 44
NODE_GAP = 8
GATEWAY_HEIGHT = 54
VPC_HEAD = 44


def _clip(text, limit: int) -> str:
    text = "" if text is None else str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _text(x: float, y: float, value, css: str, limit: int = 40, anchor: str = "start") -> str:
    return (f'<text x="{x:.0f}" y="{y:.0f}" class="{css}" text-anchor="{anchor}">'
            f"{escape(_clip(value, limit))}</text>")


def _node(x: float, y: float, width: float, instance: dict, labels: dict) -> str:
    name = instance.get("name") or ""
    address = instance.get("private_ip") or "–"
    public = instance.get("public_ip")
    state = escape(instance.get("state") or "")
    parts = [f'<g class="topo-node state-{state}" data-instance="{escape(instance.get("id", ""))}">',
             f"<title>{escape(name)} {escape(address)}{' / ' + str(escape(public)) if public else ''}</title>",
             f'<a href="/mini-pcs/{escape(instance.get("id", ""))}">',
             f'<rect x="{x:.0f}" y="{y:.0f}" width="{width:.0f}" height="{NODE_HEIGHT}" rx="6" class="topo-node-box"/>',
             _text(x + 10, y + 18, name, "topo-node-name", limit=int(width / 8)),
             _text(x + 10, y + 35, address, "topo-mono"),
             ]
    if public:
        parts.append(_text(x + width - 10, y + 35, public, "topo-mono topo-public-ip", anchor="end"))
    parts.append("</a></g>")
    return "".join(parts)


def _subnet(x: float, y: float, width: float, height: float, subnet: dict, labels: dict) -> str:
    public = bool(subnet.get("public"))
    kind = labels.get("public", "public") if public else labels.get("private", "private")
    usage = f'{labels.get("used", "used")} {subnet.get("used", 0)} · {labels.get("free", "free")} {subnet.get("free", 0)}'
    parts = [f'<g class="topo-subnet{" topo-public" if public else ""}" data-subnet="{escape(subnet.get("id", ""))}">',
             f"<title>{escape(subnet.get('name', ''))} {escape(subnet.get('cidr', ''))}</title>",
             f'<rect x="{x:.0f}" y="{y:.0f}" width="{width:.0f}" height="{height:.0f}" rx="8" class="topo-subnet-box"/>',
             _text(x + 12, y + 20, subnet.get("name"), "topo-subnet-name", limit=int(width / 9) - 8),
             _text(x + width - 12, y + 20, kind, "topo-badge", anchor="end"),
             _text(x + 12, y + 38, subnet.get("cidr"), "topo-mono"),
             _text(x + 12, y + 54, usage, "topo-muted", limit=60)]
    instances = subnet.get("instances") or []
    top = y + SUBNET_HEAD
    for instance in instances:
        parts.append(_node(x + 10, top, width - 20, instance, labels))
        top += NODE_HEIGHT + NODE_GAP
    if not instances:
        parts.append(_text(x + 12, top + 16, labels.get("empty", ""), "topo-muted", limit=60))
    parts.append("</g>")
    return "".join(parts)


def _subnet_height(subnet: dict) -> float:
    count = max(1, len(subnet.get("instances") or []))
    return SUBNET_HEAD + count * (NODE_HEIGHT + NODE_GAP) + 4


def render_topology(model: dict, width: int = WIDTH, columns: int = COLUMNS, name: str = "wide") -> Markup:
    """The SVG (as Markup, ready for the template) drawing ``model``, ``width`` units wide with up to
    ``columns`` subnets per row; ``name`` tells two drawings of one page apart (a wide and a narrow one)."""
    labels = model.get("labels") or {}
    vpc = model.get("vpc") or {}
    subnets = list(model.get("subnets") or [])
    gateway = model.get("gateway")
    columns = max(1, min(columns, len(subnets) or 1))
    inner = width - 2 * PAD - 2 * PAD
    subnet_width = (inner - (columns - 1) * SUBNET_GAP) / columns
    vpc_top = PAD + (GATEWAY_HEIGHT + 40 if gateway else 0)
    rows = [subnets[i:i + columns] for i in range(0, len(subnets), columns)]
    row_heights = [max(_subnet_height(s) for s in row) for row in rows]
    body = sum(row_heights) + SUBNET_GAP * max(0, len(rows) - 1) if rows else 40
    vpc_height = VPC_HEAD + body + PAD
    height = vpc_top + vpc_height + PAD

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height:.0f}" '
             f'class="topology topology-{name}" role="img" aria-labelledby="topology-title-{name}">',
             f'<title id="topology-title-{name}">{escape(labels.get("title", ""))} {escape(vpc.get("name", ""))}</title>',
             f'<g class="topo-vpc"><rect x="{PAD}" y="{vpc_top:.0f}" width="{width - 2 * PAD}" '
             f'height="{vpc_height:.0f}" rx="12" class="topo-vpc-box"/>',
             _text(PAD + 16, vpc_top + 28, vpc.get("name"), "topo-vpc-name", limit=48),
             _text(width - PAD - 16, vpc_top + 28, vpc.get("cidr"), "topo-mono", anchor="end"),
             "</g>"]
    links, boxes = [], []
    top = vpc_top + VPC_HEAD
    gateway_x = width / 2
    for row, row_height in zip(rows, row_heights):
        for index, subnet in enumerate(row):
            x = 2 * PAD + index * (subnet_width + SUBNET_GAP)
            boxes.append(_subnet(x, top, subnet_width, row_height, subnet, labels))
            if gateway and subnet.get("public"):
                links.append(f'<line x1="{gateway_x:.0f}" y1="{PAD + GATEWAY_HEIGHT}" x2="{x + subnet_width / 2:.0f}" '
                             f'y2="{top:.0f}" class="topo-link"/>')
        top += row_height + SUBNET_GAP
    if not subnets:
        boxes.append(_text(2 * PAD, vpc_top + VPC_HEAD + 20, labels.get("no_subnets", ""), "topo-muted",
                           limit=int(width / 8)))
    parts.extend(links)
    parts.extend(boxes)
    if gateway:
        box = 260
        x = gateway_x - box / 2
        parts += ['<g class="topo-gateway">',
                  f'<rect x="{x:.0f}" y="{PAD}" width="{box}" height="{GATEWAY_HEIGHT}" rx="27" class="topo-gateway-box"/>',
                  _text(gateway_x, PAD + 22, labels.get("gateway", "internet gateway"), "topo-gateway-name",
                        anchor="middle"),
                  _text(gateway_x, PAD + 41, gateway.get("address"), "topo-mono", anchor="middle"),
                  "</g>"]
    parts.append("</svg>")
    return Markup("".join(parts))
