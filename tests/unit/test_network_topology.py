"""The VPC topology drawing: what it shows, and that nothing a user typed can become markup."""
from __future__ import annotations

import xml.etree.ElementTree as ET

from minicloud.handlers.pages.network_topology import render_topology

SVG = "{http://www.w3.org/2000/svg}"


def model(**overrides):
    base = {"vpc": {"name": "lab", "cidr": "10.0.0.0/16"},
            "gateway": {"address": "203.0.113.2"},
            "labels": {"gateway": "Internet gateway", "public": "public", "private": "private", "used": "used",
                       "free": "free", "empty": "no mini PCs", "title": "Topology of"},
            "subnets": [
                {"id": "s1", "name": "web", "cidr": "10.0.1.0/24", "used": 1, "free": 250, "public": True,
                 "instances": [{"id": "i1", "name": "www", "private_ip": "10.0.1.4", "public_ip": "203.0.113.7",
                                "state": "running"}]},
                {"id": "s2", "name": "db", "cidr": "10.0.2.0/24", "used": 0, "free": 251, "public": False,
                 "instances": []}]}
    base.update(overrides)
    return base


def texts(svg: str) -> list[str]:
    return [t.text for t in ET.fromstring(svg).iter(f"{SVG}text")]


def test_the_drawing_shows_the_vpc_its_subnets_instances_and_gateway():
    svg = str(render_topology(model()))
    shown = texts(svg)
    assert "lab" in shown and "10.0.0.0/16" in shown
    assert "web" in shown and "10.0.1.0/24" in shown and "used 1 · free 250" in shown
    assert "www" in shown and "10.0.1.4" in shown and "203.0.113.7" in shown
    assert "Internet gateway" in shown and "203.0.113.2" in shown
    assert "no mini PCs" in shown  # the empty subnet says so
    root = ET.fromstring(svg)
    assert len(list(root.iter(f"{SVG}line"))) == 1  # the gateway connects to the one public subnet only
    assert root.find(f".//{SVG}g[@data-instance='i1']") is not None


def test_without_a_gateway_nothing_is_drawn_above_the_vpc():
    svg = str(render_topology(model(gateway=None)))
    assert "Internet gateway" not in texts(svg)
    assert not list(ET.fromstring(svg).iter(f"{SVG}line"))


def test_names_are_escaped_and_stay_inert():
    evil = '<script>alert(1)</script>'
    svg = str(render_topology(model(vpc={"name": evil, "cidr": '10.0.0.0/16"><x'},
                                    subnets=[{"id": '"><b', "name": evil, "cidr": "10.0.1.0/24", "used": 0,
                                              "free": 1, "instances": [{"id": "i", "name": evil}]}])))
    assert "<script>" not in svg and '"><x' not in svg and '"><b' not in svg
    root = ET.fromstring(svg)  # still well-formed
    assert not list(root.iter(f"{SVG}script")) and not list(root.iter("script"))
    assert any(t and t.startswith("<script>") for t in texts(svg))  # shown as text, truncated if long


def test_many_subnets_wrap_into_rows_and_the_narrow_drawing_stacks_them():
    subnets = [{"id": f"s{n}", "name": f"net{n}", "cidr": f"10.0.{n}.0/24", "used": 0, "free": 251, "instances": []}
               for n in range(5)]
    wide = ET.fromstring(str(render_topology(model(subnets=subnets))))
    narrow = ET.fromstring(str(render_topology(model(subnets=subnets), width=420, columns=1, name="narrow")))
    def xs(root):
        return {r.get("x") for g in root.iter(f"{SVG}g") if g.get("class", "").startswith("topo-subnet")
                for r in g.findall(f"{SVG}rect")}
    assert len(xs(wide)) == 3 and len(xs(narrow)) == 1
    assert float(narrow.get("viewBox").split()[3]) > float(wide.get("viewBox").split()[3])
