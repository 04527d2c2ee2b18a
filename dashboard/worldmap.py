"""The world map's two views, drawn on the server as SVG (no script needed, no inline style).

Shapes: `static/world.json`, built once by `tools/build_world.py` from Natural Earth 1:50m
(public domain) as redistributed by the npm package world-atlas 2.0.2 (ISC), keyed by ISO
3166-1 alpha-2. Colour is a CSS class (`lvl-1` … `lvl-5` on a log scale relative to the
busiest country, hue by worst status or by reach), so the strict CSP holds.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from scanner.catalog import Catalog, country_name

WORLD = Path(__file__).parent / "static" / "world.json"
STATUS_RANK = ("fail", "not_evaluated", "pass", "not_applicable")
LEVELS = 5
# The countries whose centres bound a zoomed map (its box, padded): Europe, where many small countries
# with data lie close together (Ireland, Benelux, Switzerland) and the world map's arcs would cover them.
ZOOMS = {"world": (), "europe": ("IS", "PT", "CY", "FI", "NO", "GR", "IE", "TR")}
MARKER_RADIUS = 3.2
TOP_MARGIN = 8.0


@dataclass
class Shape:
    code: str
    name: str
    d: str
    cx: float
    cy: float
    marker: bool
    css: str = "land"
    title: str = ""
    href: str | None = None
    value: int = 0


@dataclass
class Link:
    source: str
    target: str
    d: str
    css: str
    title: str
    href: str
    stores: int


@dataclass
class MapView:
    view: str
    width: float
    top: float
    height: float
    shapes: list[Shape]
    links: list[Link] = field(default_factory=list)
    legend: list[dict[str, Any]] = field(default_factory=list)
    listing: list[dict[str, Any]] = field(default_factory=list)  # every coloured entry, as a table
    notes: list[str] = field(default_factory=list)
    zoom: str = "world"
    box: tuple[float, float, float, float] | None = None  # x, y, width, height of a zoomed map

    @property
    def view_box(self) -> str:
        if self.box:
            return " ".join(f"{value:.1f}" for value in self.box)
        top = self.top - TOP_MARGIN  # sea above Greenland and the Arctic islands: they do not touch the frame
        return f"0 {top} {self.width} {self.height - top}"

    @property
    def marker_radius(self) -> float:
        """Markers keep their size on the screen when the map is zoomed."""
        scale = self.box[2] / self.width if self.box else 1.0
        return round(MARKER_RADIUS * max(scale, 0.2), 2)

    def coloured(self) -> list[str]:
        return sorted(shape.code for shape in self.shapes if shape.value > 0)


def level(count: int, peak: int) -> int:
    if count <= 0:
        return 0
    if peak <= 1:
        return LEVELS
    return max(1, min(LEVELS, math.ceil(LEVELS * math.log(count + 1) / math.log(peak + 1))))


def level_ranges(peak: int) -> list[tuple[int, int, int]]:
    """(level, lowest, highest) store counts per colour level, for the legend."""
    ranges: dict[int, list[int]] = {}
    for count in range(1, max(peak, 1) + 1) if peak <= 5000 else []:
        ranges.setdefault(level(count, peak), []).append(count)
    if peak > 5000:  # approximate bounds without enumerating
        bounds = [0] + [math.ceil((peak + 1) ** (i / LEVELS) - 1) for i in range(1, LEVELS + 1)]
        return [(i, bounds[i - 1] + 1, bounds[i]) for i in range(1, LEVELS + 1)]
    return [(lvl, values[0], values[-1]) for lvl, values in sorted(ranges.items())]


class WorldMap:
    def __init__(self, path: Path = WORLD) -> None:
        self.path = path

    @cached_property
    def data(self) -> dict[str, Any]:
        return json.loads(self.path.read_text(encoding="utf-8"))

    def _shapes(self) -> list[Shape]:
        shapes = []
        for code, entry in self.data["countries"].items():
            named = code if not code.startswith("-") else ""
            shapes.append(
                Shape(
                    code=named,
                    name=country_name(named) if named else entry["name"],
                    d=entry["d"],
                    cx=entry["c"][0],
                    cy=entry["c"][1],
                    marker=bool(entry.get("marker")),
                    title=country_name(named) if named else entry["name"],
                )
            )
        return shapes

    def _view(self, name: str, shapes: list[Shape], zoom: str = "world") -> MapView:
        view = MapView(name, self.data["width"], self.data["top"], self.data["height"], shapes, zoom=zoom)
        centres = [self.data["countries"][code]["c"] for code in ZOOMS.get(zoom, ()) if code in self.data["countries"]]
        if centres:
            xs, ys = [c[0] for c in centres], [c[1] for c in centres]
            pad = 0.08 * (max(xs) - min(xs))
            width, height = max(xs) - min(xs) + 2 * pad, max(ys) - min(ys) + 2 * pad
            aspect = (view.height - view.top) / view.width  # the world map's shape, so the figure keeps its size
            width, height = max(width, height / aspect), max(height, width * aspect)
            view.box = ((min(xs) + max(xs) - width) / 2, (min(ys) + max(ys) - height) / 2, width, height)
        return view

    def where(self, data: dict[str, Any], zoom: str = "world") -> MapView:
        """Where the bytes are: countries by number of stores with a copy there, hue by worst status."""
        countries: dict[str, dict[str, Any]] = data["countries"]
        peak = max((entry["stores"] for entry in countries.values()), default=0)
        shapes = self._shapes()
        by_code = {shape.code: shape for shape in shapes if shape.code}
        view = self._view("where", shapes, zoom)
        for code, entry in sorted(countries.items(), key=lambda kv: (-kv[1]["stores"], kv[0])):
            statuses = entry["by_status"]
            worst = next((status for status in STATUS_RANK if statuses.get(status)), "not_evaluated")
            parts = ", ".join(f"{statuses[st]} {st.replace('_', ' ')}" for st in STATUS_RANK if statuses.get(st))
            title = (
                f"{country_name(code) if code != 'unknown' else 'Unknown country'} ({code}): "
                f"{entry['stores']} store(s) with a copy here — {parts}; "
                f"{entry['primary']} with a primary copy, {entry['replica']} with a replica or backup"
            )
            view.listing.append({"code": code, "name": country_name(code) if code != "unknown" else "unknown",
                                 "stores": entry["stores"], "worst": worst, "by_status": statuses,
                                 "primary": entry["primary"], "replica": entry["replica"],
                                 "href": f"/inventory?country={code}"})
            shape = by_code.get(code)
            if shape is None:
                if code == "unknown":
                    view.notes.append(f"{entry['stores']} store(s) have a copy in a region the catalog cannot place "
                                      "in a country; they are listed below, not drawn.")
                else:
                    view.notes.append(f"{country_name(code)} ({code}) has no shape on this map; listed below.")
                continue
            shape.value = entry["stores"]
            shape.css = f"land has-data st-{worst} lvl-{level(entry['stores'], peak)}"
            shape.title = title
            shape.href = f"/inventory?country={code}"
        link_peak = max((link["stores"] for link in data["links"]), default=0)
        for link in data["links"]:
            source, target = by_code.get(link["from"]), by_code.get(link["to"])
            if source is None or target is None:
                continue
            view.links.append(
                Link(
                    source=link["from"],
                    target=link["to"],
                    d=_arc(source.cx, source.cy, target.cx, target.cy),
                    css=f"link lvl-{level(link['stores'], link_peak)}",
                    title=f"{link['stores']} store(s) with a primary copy in {country_name(link['from'])} keep "
                          f"a replica or backup in {country_name(link['to'])}",
                    href=f"/inventory?primary={link['from']}&replica={link['to']}",
                    stores=link["stores"],
                )
            )
        view.legend = [{"level": lvl, "low": low, "high": high} for lvl, low, high in level_ranges(peak)]
        return view

    def compel(self, data: dict[str, Any], catalog: Catalog, zoom: str = "world") -> MapView:
        """Who can compel them: each jurisdiction by the number of stores its law reaches."""
        reach: dict[str, int] = data["jurisdictions"]
        countries_only = {code: count for code, count in reach.items() if code not in catalog.unions}
        peak = max(reach.values(), default=0)
        shapes = self._shapes()
        view = self._view("compel", shapes, zoom)
        unions = {code: catalog.unions[code] for code in reach if code in catalog.unions}
        for shape in shapes:
            if not shape.code:
                continue
            own = countries_only.get(shape.code, 0)
            member_of = [(code, union) for code, union in unions.items() if shape.code in union.members]
            classes = ["land"]
            words = []
            if own:
                classes += ["has-data", "reach", f"lvl-{level(own, peak)}"]
                words.append(f"its own law reaches {own} store(s)")
                shape.href = f"/jurisdiction/{shape.code}"
            for code, union in member_of:
                classes.append(f"union union-{code.lower()}")
                words.append(f"as a member of the {union.name}, {code} law reaches {reach[code]} store(s)")
                shape.href = shape.href or f"/jurisdiction/{code}"
            if words:
                shape.title = f"{shape.name} ({shape.code}): " + "; ".join(words)
            shape.value = own
            shape.css = " ".join(classes)
        for code, count in reach.items():
            union = catalog.unions.get(code)
            view.listing.append({
                "code": code,
                "name": union.name if union else country_name(code),
                "stores": count,
                "union": bool(union),
                "members": sorted(union.members) if union else [],
                "href": f"/jurisdiction/{code}",
            })
        for code, union in unions.items():
            view.notes.append(
                f"{union.name} ({code}) law reaches {reach[code]} store(s); its {len(union.members)} member states "
                "are outlined, and coloured only by their own national law."
            )
        view.legend = [{"level": lvl, "low": low, "high": high} for lvl, low, high in level_ranges(peak)]
        return view


def _arc(x1: float, y1: float, x2: float, y2: float) -> str:
    """A gentle curve from (x1, y1) to (x2, y2), bowed to the left of travel."""
    mx, my = (x1 + x2) / 2, (y1 + y2) / 2
    dx, dy = x2 - x1, y2 - y1
    bend = 0.2
    cx, cy = mx - dy * bend, my + dx * bend
    return f"M{x1:.1f},{y1:.1f}Q{cx:.1f},{cy:.1f} {x2:.1f},{y2:.1f}"
