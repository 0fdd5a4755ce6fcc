"""Roads, drains, sewers and water-supply pipes (frame geometry, codes, attributes).

Road segments are the lattice edges between junctions. Drains, sewers and pipes run
along a road segment, shifted sideways. Each network also gets a few soft-deleted
"old lines" (a twin of a live line on the same road), which buildings must not reference
except where a CODE_DELETED defect is planted.
"""
from types import SimpleNamespace

import numpy as np

from . import names
from . import planar as pl

SURFACES = {0: (["Metalled"], [1.0]),
            1: (["Metalled", "Brick Paved"], [0.7, 0.3]),
            2: (["Brick Paved", "Gravelled", "Earthen", "Metalled"], [0.45, 0.2, 0.2, 0.15])}


def _line_names(lay, rng):
    out = {}
    used = set()
    for key in sorted({(bool(h), int(l)) for h, l in zip(lay.edge_is_h[lay.edge_road], lay.edge_line[lay.edge_road])}):
        for _ in range(50):
            loc = names.locality(rng)
            if loc not in used:
                break
        used.add(loc)
        out[key] = loc
    return out


def build(lay, rng):
    net = SimpleNamespace()
    roads = np.nonzero(lay.edge_road)[0]
    is_h = lay.edge_is_h[roads]
    line = lay.edge_line[roads]
    # position along the line: the other lattice index
    NY = lay.NY
    pos = np.where(is_h, roads // NY, (roads - lay.nH) % (NY - 1))
    order = np.lexsort((pos, line, ~is_h))
    roads = roads[order]
    loc = _line_names(lay, rng)
    r = SimpleNamespace()
    r.edge = list(roads)
    r.a = lay.edge_a[roads].copy()
    r.b = lay.edge_b[roads].copy()
    r.deleted = [False] * len(roads)
    r.rank = list(lay.edge_rank[roads])
    r.carrying = list(lay.edge_carrying[roads])
    r.row = list(lay.edge_row[roads])
    r.name = []
    r.surface = []
    for e in roads:
        rank = int(lay.edge_rank[e])
        base = loc[(bool(lay.edge_is_h[e]), int(lay.edge_line[e]))]
        if rank == 0:
            r.name.append(f"{base} {names.ROAD_SUFFIX_MAJOR[int(lay.edge_line[e]) % len(names.ROAD_SUFFIX_MAJOR)]}")
        elif rank == 1:
            r.name.append(f"{base} Road")
        else:
            r.name.append(f"{base} Lane")
        choices, p = SURFACES[rank]
        r.surface.append(choices[int(rng.choice(len(choices), p=p))])
    r.bridge = list(lay.edge_bridge[roads])
    n_live = len(roads)
    # soft-deleted roads: duplicate entries of lanes, and lanes lost to the river
    lanes = [i for i in range(n_live) if r.rank[i] == 2]
    for i in rng.choice(lanes, size=min(3, len(lanes)), replace=False):
        i = int(i)
        _append_road(r, r.edge[i], r.a[i], r.b[i], r.rank[i], r.carrying[i], r.row[i], r.name[i], r.surface[i])
    wet = np.nonzero(lay.edge_wet_unused)[0]
    if len(wet):
        e = int(wet[rng.integers(len(wet))])
        _append_road(r, e, lay.edge_a[e], lay.edge_b[e], 2, 2.0, 3.0, "River Bank Lane", "Earthen")
    r.code = ["R%04d" % (i + 1) for i in range(len(r.edge))]
    r.live = np.array([not d for d in r.deleted])
    net.roads = r
    edge_to_road = {int(e): i for i, e in enumerate(r.edge[:n_live])}
    net.drains = _along(lay, rng, r, edge_to_road, lay.drain_roads, "D", side="edge")
    net.sewers = _along(lay, rng, r, edge_to_road, lay.sewer_roads, "S", side="middle")
    net.pipes = _along(lay, rng, r, edge_to_road, lay.pipe_roads, "W", side="pipe")
    return net


def _append_road(r, e, a, b, rank, carrying, row, name, surface):
    r.edge.append(int(e))
    r.a = np.vstack([r.a, a])
    r.b = np.vstack([r.b, b])
    r.deleted.append(True)
    r.rank.append(rank)
    r.carrying.append(carrying)
    r.row.append(row)
    r.name.append(name)
    r.surface.append(surface)
    r.bridge.append(False)


def _along(lay, rng, roads, edge_to_road, edges, prefix, side):
    ridx = sorted(edge_to_road[int(e)] for e in edges)
    out = SimpleNamespace(road=[], a=[], b=[], deleted=[], side=[], twin_of=[])
    n = len(ridx)
    twins = set()
    if n:
        good = [k for k, i in enumerate(ridx) if roads.rank[i] <= 1 and not roads.bridge[i]] or list(range(n))
        twins = {int(x) for x in rng.choice(good, size=min(3, len(good)), replace=False)}
    for k, i in enumerate(ridx):
        cw = roads.carrying[i]
        if side == "edge":
            s = float(rng.choice([-1.0, 1.0]))
            off = s * (cw / 2 + 0.4)
        elif side == "middle":
            s = float(rng.choice([0.0, 0.0, -1.0, 1.0]))
            off = s * cw / 4
        else:
            s = float(rng.choice([-1.0, 1.0]))
            off = s * min(1.5, cw / 2)
        a, b = roads.a[i], roads.b[i]
        d = (b - a) / np.linalg.norm(b - a)
        nrm = pl.perp(d[None])[0]
        if k in twins:
            # the old line, replaced by the live one (soft-deleted)
            o2 = -off if off != 0 else cw / 4
            out.road.append(i)
            out.a.append(a + nrm * o2)
            out.b.append(b + nrm * o2)
            out.deleted.append(True)
            out.side.append(-s if s else 1.0)
            out.twin_of.append(len(out.road))     # index of the live line, appended next
        out.road.append(i)
        out.a.append(a + nrm * off)
        out.b.append(b + nrm * off)
        out.deleted.append(False)
        out.side.append(s)
        out.twin_of.append(-1)
    out.a = np.array(out.a).reshape(-1, 2)
    out.b = np.array(out.b).reshape(-1, 2)
    out.code = ["%s%04d" % (prefix, j + 1) for j in range(len(out.road))]
    out.live = np.array([not d for d in out.deleted], dtype=bool)
    return out
