"""Build dashboard/static/world.json, the map's country shapes, from Natural Earth via world-atlas.

Not run at install or run time: its output is committed. To reproduce it:

    cd "$(mktemp -d)" && npm pack world-atlas@2.0.2 && tar xzf world-atlas-2.0.2.tgz
    python dashboard/tools/build_world.py "$PWD/package/countries-50m.json"

world-atlas 2.0.2 (npm, ISC licence, © Michael Bostock) redistributes Natural Earth 4.1.0
Admin 0 country boundaries at 1:50m (public domain) as TopoJSON keyed by ISO 3166-1 numeric
code. This script projects them (Equal Earth), simplifies every shared arc once (so that
neighbours still meet), keys each country by its ISO 3166-1 alpha-2 code (pycountry) and
writes SVG path data. Antarctica is left out; countries too small to see or click at world
scale also get a marker point.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pycountry

OUT = Path(__file__).resolve().parent.parent / "static" / "world.json"
WIDTH = 1000.0
TOLERANCE = 0.35  # px on a 1000 px wide map
MIN_RING_AREA = 0.6  # px²: smaller islands are dropped (the country keeps its marker)
MARKER_AREA = 12.0  # px²: countries smaller than this also get a clickable marker

A1, A2, A3, A4 = 1.340264, -0.081106, 0.000893, 0.003796
M = math.sqrt(3) / 2
X_MAX = 2.7064  # equal earth x at lon 180, lat 0 (rounded up)
SCALE = WIDTH / (2 * X_MAX)


def equal_earth(lon: float, lat: float) -> tuple[float, float]:
    lam, phi = math.radians(lon), math.radians(lat)
    theta = math.asin(M * math.sin(phi))
    t2 = theta * theta
    t6 = t2 * t2 * t2
    x = 2 * math.sqrt(3) * lam * math.cos(theta) / (3 * (9 * A4 * t6 * t2 + 7 * A3 * t6 + 3 * A2 * t2 + A1))
    y = theta * (A4 * t6 * t2 + A3 * t6 + A2 * t2 + A1)
    return (x + X_MAX) * SCALE, (1.3173 - y) * SCALE


def simplify(points: list[tuple[float, float]], tolerance: float) -> list[int]:
    """Douglas-Peucker, iterative: the indexes of the points kept; endpoints are kept so shared arcs still join."""
    if len(points) < 3:
        return list(range(len(points)))
    keep = [False] * len(points)
    keep[0] = keep[-1] = True
    stack = [(0, len(points) - 1)]
    while stack:
        first, last = stack.pop()
        (x1, y1), (x2, y2) = points[first], points[last]
        dx, dy = x2 - x1, y2 - y1
        norm = math.hypot(dx, dy)
        worst, index = -1.0, -1
        for i in range(first + 1, last):
            px, py = points[i]
            dist = abs(dy * px - dx * py + x2 * y1 - y2 * x1) / norm if norm else math.hypot(px - x1, py - y1)
            if dist > worst:
                worst, index = dist, i
        if worst > tolerance:
            keep[index] = True
            stack += [(first, index), (index, last)]
    return [i for i, k in enumerate(keep) if k]


def clip(ring: list[tuple[float, float]], edge: float, keep_below: bool) -> list[tuple[float, float]]:
    """Sutherland-Hodgman against the vertical line lon = edge."""
    def inside(point: tuple[float, float]) -> bool:
        return point[0] <= edge if keep_below else point[0] >= edge

    result: list[tuple[float, float]] = []
    for index, current in enumerate(ring):
        previous = ring[index - 1]
        if inside(current):
            if not inside(previous):
                result.append(_cross(previous, current, edge))
            result.append(current)
        elif inside(previous):
            result.append(_cross(previous, current, edge))
    return result


def _cross(a: tuple[float, float], b: tuple[float, float], edge: float) -> tuple[float, float]:
    t = (edge - a[0]) / (b[0] - a[0])
    return edge, a[1] + t * (b[1] - a[1])


def split_at_antimeridian(ring: list[tuple[float, float]]) -> list[list[tuple[float, float]]]:
    """A ring (lon, lat) that jumps across ±180° becomes the two rings on either side of it."""
    unwrapped = [ring[0]]
    for lon, lat in ring[1:]:
        previous = unwrapped[-1][0]
        while lon - previous > 180:
            lon -= 360
        while lon - previous < -180:
            lon += 360
        unwrapped.append((lon, lat))
    low, high = min(p[0] for p in unwrapped), max(p[0] for p in unwrapped)
    if low >= -180 and high <= 180:
        return [ring]
    edge = 180.0 if high > 180 else -180.0
    shift = -360.0 if edge > 0 else 360.0
    inner = clip(unwrapped, edge, keep_below=edge > 0)
    outer = [(lon + shift, lat) for lon, lat in clip(unwrapped, edge, keep_below=edge < 0)]
    return [part for part in (inner, outer) if len(part) >= 3]


def ring_area(ring: list[tuple[float, float]]) -> float:
    return abs(sum(x1 * y2 - x2 * y1 for (x1, y1), (x2, y2) in zip(ring, ring[1:] + ring[:1], strict=True))) / 2


def ring_centroid(ring: list[tuple[float, float]]) -> tuple[float, float]:
    area = cx = cy = 0.0
    for (x1, y1), (x2, y2) in zip(ring, ring[1:] + ring[:1], strict=True):
        cross = x1 * y2 - x2 * y1
        area += cross
        cx += (x1 + x2) * cross
        cy += (y1 + y2) * cross
    if abs(area) < 1e-9:
        return sum(p[0] for p in ring) / len(ring), sum(p[1] for p in ring) / len(ring)
    return cx / (3 * area), cy / (3 * area)


def build(source: Path) -> dict:
    topo = json.loads(source.read_text(encoding="utf-8"))
    (sx, sy), (tx, ty) = topo["transform"]["scale"], topo["transform"]["translate"]
    arcs: list[list[tuple[float, float]]] = []  # lon, lat of the points kept after simplification
    for arc in topo["arcs"]:
        x = y = 0
        points = []
        for dx, dy in arc:
            x, y = x + dx, y + dy
            points.append((x * sx + tx, y * sy + ty))
        # simplify in map pixels (shared arcs once, so neighbours still meet); keep the lon/lat
        kept = simplify([equal_earth(lon, lat) for lon, lat in points], TOLERANCE)
        arcs.append([points[i] for i in kept])

    def rings(indexes: list[int]) -> list[list[tuple[float, float]]]:
        points: list[tuple[float, float]] = []
        for index in indexes:
            arc = arcs[index] if index >= 0 else arcs[~index][::-1]
            points.extend(arc[1:] if points else arc)
        return [[equal_earth(lon, lat) for lon, lat in part] for part in split_at_antimeridian(points)]

    countries: dict[str, dict] = {}
    for geometry in topo["objects"]["countries"]["geometries"]:
        name = geometry["properties"]["name"]
        numeric = geometry.get("id")
        country = pycountry.countries.get(numeric=numeric) if numeric else None
        if country is not None and country.alpha_2 == "AQ":
            continue
        code = country.alpha_2 if country else None
        polygons = geometry["arcs"] if geometry["type"] == "MultiPolygon" else [geometry["arcs"]]
        all_rings = [part for polygon in polygons for r in polygon for part in rings(r)]
        outer = [part for polygon in polygons for part in rings(polygon[0])]
        total = sum(ring_area(r) for r in outer)
        kept = [r for r in all_rings if len(r) >= 3 and ring_area(r) >= MIN_RING_AREA]
        largest = max(outer, key=ring_area)
        cx, cy = ring_centroid(largest)
        path = "".join("M" + "L".join(f"{x:.1f},{y:.1f}" for x, y in r) + "Z" for r in kept)
        entry = {"name": name, "d": path, "c": [round(cx, 1), round(cy, 1)]}
        if total < MARKER_AREA:
            entry["marker"] = True
        key = code or f"-{name}"  # no ISO code (Kosovo, N. Cyprus, ...): drawn, never linked
        if key in countries:  # one code in several features: merge
            countries[key]["d"] += entry["d"]
            continue
        countries[key] = entry
    ys = [float(v) for e in countries.values() for v in e["d"].replace("M", " ").replace("L", " ")
          .replace("Z", " ").replace(",", " ").split()[1::2]]
    return {
        "source": "Natural Earth 4.1.0 Admin 0 countries 1:50m (public domain), via the npm package "
                  "world-atlas 2.0.2 (ISC, © Michael Bostock); projected (Equal Earth) and simplified by "
                  "dashboard/tools/build_world.py",
        "width": WIDTH,
        "height": round(max(ys) + 2, 1),
        "top": round(max(min(ys) - 2, 0), 1),
        "countries": dict(sorted(countries.items())),
    }


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    world = build(Path(argv[1]))
    OUT.write_text(json.dumps(world, separators=(",", ":"), ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{OUT}: {len(world['countries'])} countries, {OUT.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
