"""Physical layout of the sample town, in a local metric frame (metres).

The frame's X axis is the town's long axis; ``Layout.to_utm`` maps frame coordinates
to UTM 45N (EPSG:32645) by a rotation and a translation, so distances and areas
computed here are UTM distances and areas.

The town is a warped street lattice (jittered quadrilateral blocks between road centre
lines) clipped to an elongated city outline, bounded on one side by a large river,
crossed by one or two smaller rivers (khals), with ponds in block interiors. Building
footprints are oriented rectangles placed along the block edges, in rows behind the
street front, never overlapping each other, ponds or rivers.
"""
import math
from types import SimpleNamespace

import numpy as np

from . import planar as pl

KHULNA_BUILDINGS = 156052
KHULNA_AREA_M2 = 46.0e6
M2_PER_BUILDING = KHULNA_AREA_M2 / KHULNA_BUILDINGS
CENTRE_LONLAT = (89.55, 22.82)
ROTATION_DEG = 112.0          # direction of the long axis, counter-clockwise from east

HIERARCHY = ("Strategic Urban Road", "Feeder Road", "Other Road")
BANK_MARGIN = 6.0             # free strip between water and any footprint, m
BUILDING_GAP = 0.4            # minimum gap between two footprints, m
POND_GAP = 2.5                # minimum gap between a pond and a footprint, m
# pond clustering (calibrated: ~44 % of Khulna's buildings within 100 m of water)
POND_BUMPS_PER_KM2 = 0.5
POND_BUMP_SIGMA = (250.0, 450.0)
POND_BASE = 0.01
POND_POWER = 2.0
POND_MAX_PER_BLOCK = 3


def build(n, rng, fill=1.0):
    """Lay out a town for ``n`` buildings. Returns a SimpleNamespace (see end of function)."""
    lay = SimpleNamespace()
    lay.n = n
    lay.scale = L = math.sqrt(n / KHULNA_BUILDINGS)
    lay.target_area = n * M2_PER_BUILDING
    _frame(lay)
    _outline_and_lattice(lay, rng)
    _rivers(lay, rng)
    _blocks(lay)
    _roads(lay, rng)
    _wards(lay, rng)
    _block_types(lay, rng)
    _ponds(lay, rng)
    _candidates(lay, rng, fill)
    _networks(lay, rng)
    return lay


# ---------------------------------------------------------------------------------------
# frame, outline, lattice
# ---------------------------------------------------------------------------------------

def _frame(lay):
    from pyproj import Transformer

    to_utm = Transformer.from_crs("EPSG:4326", "EPSG:32645", always_xy=True)
    cx, cy = to_utm.transform(*CENTRE_LONLAT)
    t = math.radians(ROTATION_DEG)
    lay.origin = np.array([cx, cy])
    lay.rot = np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])


def to_utm(lay, xy):
    xy = np.asarray(xy, dtype=float)
    return xy @ lay.rot.T + lay.origin


def _blob(lay, X, Y, a, b):
    ph = lay.blob_phase
    t = np.arctan2(Y / b, X / a)
    r = 1 + 0.07 * np.sin(2 * t + ph[0]) + 0.05 * np.sin(3 * t + ph[1]) + 0.03 * np.sin(5 * t + ph[2])
    return (X / a) ** 2 + (Y / b) ** 2 < r ** 2


def _river_y(lay, X, a, b):
    p = lay.river_phase
    return (-0.62 * b + 0.10 * b * np.sin(2 * np.pi * X / (1.3 * a) + p[0])
            + 0.04 * b * np.sin(2 * np.pi * X / (0.4 * a) + p[1]))


def _outline_and_lattice(lay, rng):
    L = lay.scale
    lay.aspect = 1.7 + 0.7 * min(1.0, L)
    a0 = math.sqrt(lay.target_area / 0.8 / math.pi * lay.aspect)
    b0 = a0 / lay.aspect
    lay.blob_phase = rng.uniform(0, 2 * np.pi, 3)
    lay.river_phase = rng.uniform(0, 2 * np.pi, 3)
    xmin, xmax = -1.45 * a0 - 500, 1.45 * a0 + 500
    ymin, ymax = -1.6 * b0 - 500, 1.6 * b0 + 500
    xs = [xmin]
    while xs[-1] < xmax:
        xs.append(xs[-1] + rng.uniform(95.0, 150.0))
    ys = [ymin]
    while ys[-1] < ymax:
        ys.append(ys[-1] + rng.uniform(68.0, 100.0))
    xs, ys = np.array(xs), np.array(ys)
    GX, GY = np.meshgrid(xs, ys, indexing="ij")           # (NX, NY)
    w = rng.uniform(0, 2 * np.pi, 4)
    wx = 38 * np.sin(2 * np.pi * GY / 1900 + w[0]) + 14 * np.sin(2 * np.pi * (GX + GY) / 1100 + w[1])
    wy = 45 * np.sin(2 * np.pi * GX / 2300 + w[2]) + 18 * np.sin(2 * np.pi * (GX - GY) / 1300 + w[3])
    jx = rng.uniform(-6, 6, GX.shape)
    jy = rng.uniform(-4, 4, GX.shape)
    lay.nodes = np.stack([GX + wx + jx, GY + wy + jy], axis=-1)  # (NX, NY, 2)
    lay.NX, lay.NY = GX.shape
    lay.a0, lay.b0 = a0, b0


def _rivers(lay, rng):
    """City outline scale (so the city area hits the target) and the river centre lines."""
    nd = lay.nodes
    bc = np.stack([nd[:-1, :-1], nd[1:, :-1], nd[1:, 1:], nd[:-1, 1:]], axis=2).reshape(-1, 4, 2)
    area = pl.polygon_area(bc)
    cen = bc.mean(axis=1)
    s = 1.0
    for _ in range(30):
        a, b = lay.a0 * s, lay.b0 * s
        inc = _blob(lay, cen[:, 0], cen[:, 1], a, b) & (cen[:, 1] > _river_y(lay, cen[:, 0], a, b))
        got = area[inc].sum()
        if abs(got / lay.target_area - 1) < 0.004:
            break
        s *= math.sqrt(lay.target_area / got) ** 0.8
    lay.a, lay.b = a, b
    lay.block_corners = bc
    lay.block_area = area
    lay.block_centre = cen
    lay.in_city = inc
    L = lay.scale
    # main river: along the whole lattice, on the city's -Y side
    X = np.arange(lay.nodes[0, 0, 0] - 200, lay.nodes[-1, 0, 0] + 200, 20.0)
    Y = _river_y(lay, X, a, b)
    main = np.stack([X, Y], axis=1)
    w0 = max(70.0, 235.0 * math.sqrt(L))
    half = 0.5 * w0 * (1 + 0.18 * np.sin(2 * np.pi * X / (0.7 * a) + lay.river_phase[2]))
    rivers = [SimpleNamespace(kind="main", line=main, half=half)]
    n_khal = 1 if lay.n < 40000 else 2
    spans = [(-0.55, 0.45)] if n_khal == 1 else [(-0.62, -0.12), (0.12, 0.62)]
    for lo, hi in spans:
        xs = a * rng.uniform(lo, hi)
        xe = xs + a * rng.uniform(-0.22, 0.22)
        S = np.array([xs, 1.45 * b])
        E = np.array([xe, float(_river_y(lay, np.array([xe]), a, b)[0])])
        length = float(np.linalg.norm(E - S))
        t = np.linspace(0, 1, max(40, int(length / 10)))
        d = (E - S) / length
        nrm = np.array([-d[1], d[0]])
        amp = max(25.0, 0.06 * length)
        waves = rng.uniform(1.8, 2.8)
        ph = rng.uniform(0, 2 * np.pi)
        off = amp * np.sin(2 * np.pi * waves * t + ph) * np.sin(np.pi * t) ** 0.5
        line = S + t[:, None] * (E - S) + off[:, None] * nrm
        hk = 0.5 * max(18.0, 42.0 * math.sqrt(L))
        khal_half = hk * (1 + 0.1 * np.sin(2 * np.pi * 3 * t + ph))
        rivers.append(SimpleNamespace(kind="khal", line=line, half=khal_half))
    for r in rivers:
        left = pl.offset_polyline(r.line, r.half)
        right = pl.offset_polyline(r.line, -r.half)
        r.ring = np.concatenate([right, left[::-1]])
        if pl.polygon_area(r.ring) < 0:
            r.ring = r.ring[::-1]
        r.seg_half = 0.5 * (r.half[:-1] + r.half[1:])
        r.index = pl.SegmentIndex(r.line[:-1], r.line[1:], radius=float(r.half.max()) + 160.0, cell=60.0)
    lay.rivers = rivers


def water_clearance(lay, pts, rivers=None):
    """Distance from points to the nearest river bank (negative inside a river); +inf far away."""
    pts = np.asarray(pts, dtype=float).reshape(-1, 2)
    out = np.full(len(pts), np.inf)
    for r in rivers if rivers is not None else lay.rivers:
        seg, d = r.index.nearest_to_points(pts)
        ok = seg >= 0
        out[ok] = np.minimum(out[ok], d[ok] - r.seg_half[seg[ok]])
    return out


# ---------------------------------------------------------------------------------------
# blocks and roads
# ---------------------------------------------------------------------------------------

def _blocks(lay):
    NX, NY = lay.NX, lay.NY
    nb = (NX - 1) * (NY - 1)
    bi, bj = np.divmod(np.arange(nb), NY - 1)
    lay.block_ij = np.stack([bi, bj], axis=1)
    nH = (NX - 1) * NY
    h = lambda i, j: i * NY + j                      # noqa: E731
    v = lambda i, j: nH + i * (NY - 1) + j           # noqa: E731
    lay.nH = nH
    lay.n_edges = nH + NX * (NY - 1)
    # CCW edges of block (i, j): bottom, right, top (reversed), left (reversed)
    lay.block_edges = np.stack([h(bi, bj), v(bi + 1, bj), h(bi, bj + 1), v(bi, bj)], axis=1)
    # edge end points and adjacent blocks
    ea = np.zeros((lay.n_edges, 2))
    eb = np.zeros((lay.n_edges, 2))
    adj = np.full((lay.n_edges, 2), -1, dtype=np.int64)
    ii, jj = np.meshgrid(np.arange(NX - 1), np.arange(NY), indexing="ij")
    ids = h(ii, jj).ravel()
    ea[ids] = lay.nodes[ii, jj].reshape(-1, 2)
    eb[ids] = lay.nodes[ii + 1, jj].reshape(-1, 2)
    blk = lambda i, j: i * (NY - 1) + j             # noqa: E731
    below = np.where(jj > 0, blk(ii, jj - 1), -1).ravel()
    above = np.where(jj < NY - 1, blk(ii, np.minimum(jj, NY - 2)), -1).ravel()
    adj[ids] = np.stack([below, above], axis=1)
    ii, jj = np.meshgrid(np.arange(NX), np.arange(NY - 1), indexing="ij")
    ids = v(ii, jj).ravel()
    ea[ids] = lay.nodes[ii, jj].reshape(-1, 2)
    eb[ids] = lay.nodes[ii, jj + 1].reshape(-1, 2)
    left = np.where(ii > 0, blk(ii - 1, jj), -1).ravel()
    right = np.where(ii < NX - 1, blk(np.minimum(ii, NX - 2), jj), -1).ravel()
    adj[ids] = np.stack([left, right], axis=1)
    lay.edge_a, lay.edge_b, lay.edge_adj = ea, eb, adj
    lay.edge_is_h = np.arange(lay.n_edges) < nH
    lay.edge_line = np.where(lay.edge_is_h, np.arange(lay.n_edges) % NY,
                             (np.arange(lay.n_edges) - nH) // (NY - 1))
    lay.block_water = water_clearance(lay, lay.block_centre) < 0


def _roads(lay, rng):
    ne = lay.n_edges
    adj = lay.edge_adj
    inc = lay.in_city
    touches = np.zeros(ne, dtype=bool)
    for k in range(2):
        ok = adj[:, k] >= 0
        touches[ok] |= inc[adj[ok, k]]
    both_water = np.ones(ne, dtype=bool)
    for k in range(2):
        ok = adj[:, k] >= 0
        tmp = np.ones(ne, dtype=bool)
        tmp[ok] = lay.block_water[adj[ok, k]] | ~inc[adj[ok, k]]
        both_water &= tmp
    # hierarchy by lattice line
    ph = rng.integers(0, 63, 4)
    line = lay.edge_line
    is_h = lay.edge_is_h
    rank = np.full(ne, 2)
    feeder = np.where(is_h, (line - ph[1]) % 3 == 0, (line - ph[3]) % 3 == 0)
    strategic = np.where(is_h, (line - ph[0]) % 7 == 0, (line - ph[2]) % 9 == 0)
    rank[feeder] = 1
    rank[strategic] = 0
    # water: sample along the edge
    t = np.linspace(0, 1, 9)
    cand = np.nonzero(touches)[0]
    pts = lay.edge_a[cand, None, :] + t[None, :, None] * (lay.edge_b[cand] - lay.edge_a[cand])[:, None, :]
    clr = water_clearance(lay, pts.reshape(-1, 2)).reshape(len(cand), len(t))
    main_clr = water_clearance(lay, pts.reshape(-1, 2), lay.rivers[:1]).reshape(len(cand), len(t))
    wet = clr.min(axis=1) < 2.0
    ends_dry = (clr[:, 0] > 2.0) & (clr[:, -1] > 2.0)
    bridge = wet & ends_dry & (main_clr.min(axis=1) > 2.0) & (rank[cand] <= 1)
    keep = np.zeros(ne, dtype=bool)
    keep[cand] = ~wet | bridge
    keep &= ~both_water
    lay.edge_rank = rank
    lay.edge_road = keep
    lay.edge_bridge = np.zeros(ne, dtype=bool)
    lay.edge_bridge[cand[bridge]] = True
    lay.edge_wet_unused = np.zeros(ne, dtype=bool)
    lay.edge_wet_unused[cand[wet & ~bridge]] = True
    # widths: a base per lattice line, small noise per segment
    nl = max(lay.NX, lay.NY) + 1
    base = {0: rng.uniform(7.0, 12.0, (2, nl)), 1: rng.uniform(3.5, 6.5, (2, nl)), 2: rng.uniform(1.6, 3.8, (2, nl))}
    cw = np.zeros(ne)
    for r in range(3):
        m = rank == r
        cw[m] = base[r][np.where(is_h[m], 0, 1), line[m]]
    cw = np.round(np.clip(cw + rng.uniform(-0.3, 0.3, ne), 1.2, 14.0), 1)
    row = cw + np.where(rank == 0, rng.uniform(3, 8, ne), rng.uniform(0.8, 3.0, ne))
    lay.edge_carrying = cw
    lay.edge_row = np.round(row, 1)
    lay.edge_setback = np.where(keep, lay.edge_row / 2 + rng.uniform(0.3, 2.0, ne), 3.0)
    lay.edge_len = np.linalg.norm(lay.edge_b - lay.edge_a, axis=1)


# ---------------------------------------------------------------------------------------
# wards, block types, ponds
# ---------------------------------------------------------------------------------------

def _wards(lay, rng):
    n_wards = int(max(4, min(31, round(31 * lay.n / KHULNA_BUILDINGS))))
    city = np.nonzero(lay.in_city)[0]
    pts = lay.block_centre[city]
    w = lay.block_area[city]
    # farthest-point initialisation, then weighted Lloyd iterations
    first = int(rng.integers(len(pts)))
    centres = [pts[first]]
    d = np.linalg.norm(pts - pts[first], axis=1)
    for _ in range(n_wards - 1):
        k = int(np.argmax(d))
        centres.append(pts[k])
        d = np.minimum(d, np.linalg.norm(pts - pts[k], axis=1))
    centres = np.array(centres)
    for _ in range(25):
        dist = np.linalg.norm(pts[:, None, :] - centres[None, :, :], axis=2)
        lab = np.argmin(dist, axis=1)
        for k in range(n_wards):
            m = lab == k
            if m.any():
                centres[k] = (pts[m] * w[m, None]).sum(0) / w[m].sum()
    dist = np.linalg.norm(pts[:, None, :] - centres[None, :, :], axis=2)
    lab = np.argmin(dist, axis=1)
    # ward 1 at the +X end (north-north-west), numbering along the long axis
    order = np.argsort(-centres[:, 0], kind="stable")
    number = np.empty(n_wards, dtype=np.int64)
    number[order] = np.arange(1, n_wards + 1)
    lay.block_ward = np.zeros(len(lay.block_centre), dtype=np.int64)
    lay.block_ward[city] = number[lab]
    lay.n_wards = n_wards


def _block_neighbours(lay, b):
    i, j = lay.block_ij[b]
    out = []
    for di, dj in ((1, 0), (-1, 0), (0, 1), (0, -1)):
        ii, jj = i + di, j + dj
        if 0 <= ii < lay.NX - 1 and 0 <= jj < lay.NY - 1:
            out.append(int(ii * (lay.NY - 1) + jj))
    return out


def _norm_radius(lay, pts):
    pts = np.asarray(pts).reshape(-1, 2)
    return np.sqrt((pts[:, 0] / lay.a) ** 2 + (pts[:, 1] / lay.b) ** 2)


def _block_types(lay, rng):
    """'water', 'open', 'plant', 'lic' or 'normal' for every city block; LIC groups."""
    nb = len(lay.block_centre)
    kind = np.array(["out"] * nb, dtype=object)
    land = lay.in_city & ~lay.block_water
    kind[lay.in_city & lay.block_water] = "water"
    kind[land] = "normal"
    # blocks that lost most of their area to water are not built on either
    cen = lay.block_centre
    lay.block_clear = water_clearance(lay, cen)
    lay.block_radius = _norm_radius(lay, cen)
    land_ids = np.nonzero(land)[0]
    # treatment plants: peripheral land blocks close to the main river, far from each other
    n_plants = 1 if lay.n < 20000 else 2
    main_clr = water_clearance(lay, cen[land_ids], lay.rivers[:1])
    score = lay.block_radius[land_ids] * 2 - np.clip(main_clr, 0, 2000) / 400.0 + rng.uniform(0, 0.3, len(land_ids))
    score[main_clr < 20] = -1e9
    plants = []
    for k in np.argsort(-score):
        b = int(land_ids[k])
        if all(np.linalg.norm(cen[b] - cen[p]) > 0.8 * lay.a for p in plants):
            plants.append(b)
        if len(plants) == n_plants:
            break
    for p in plants:
        kind[p] = "plant"
    lay.plant_blocks = plants
    # sewered zone: disc inside the city, next to the (first) plant
    pc = cen[plants[0]]
    towards = -pc / max(np.linalg.norm(pc), 1.0)
    area_city = lay.block_area[lay.in_city].sum()
    r_s = max(170.0, math.sqrt(0.04 * area_city / math.pi))
    lay.sewer_centre = pc + towards * r_s * 0.9
    lay.sewer_radius = r_s
    # open spaces (parks, playgrounds, eidgah, graveyards)
    free = [int(b) for b in land_ids if kind[b] == "normal"]
    n_open = max(1, int(round(0.025 * len(free))))
    opens = rng.choice(free, size=n_open, replace=False)
    for b in opens:
        kind[b] = "open"
    # low-income communities: groups of 1-3 adjacent blocks, mostly peripheral or near water
    n_lic = max(3, int(round(lay.n / 2000)))
    free = np.array([int(b) for b in land_ids if kind[b] == "normal"])
    wgt = 0.3 + lay.block_radius[free] ** 2 + 1.5 * (lay.block_clear[free] < 250)
    sewer_d = np.linalg.norm(cen[free] - lay.sewer_centre, axis=1)
    wgt[sewer_d < lay.sewer_radius + 150] = 1e-6
    wgt = wgt / wgt.sum()
    seeds = rng.choice(free, size=min(len(free), 4 * n_lic), replace=False, p=wgt)
    groups = []
    used = set()
    for s in seeds:
        s = int(s)
        if s in used or any(nb in used for nb in _block_neighbours(lay, s)):
            continue
        grp = [s]
        for nb in _block_neighbours(lay, s):
            if len(grp) < 1 + int(rng.integers(0, 3)) and kind[nb] == "normal" and nb not in used \
                    and all(x not in used for x in _block_neighbours(lay, nb)):
                grp.append(nb)
        for g in grp:
            used.add(g)
            kind[g] = "lic"
        groups.append(grp)
        if len(groups) == n_lic:
            break
    lay.lic_groups = groups
    lay.block_kind = kind


def _block_geometry(lay):
    bc = lay.block_corners
    P = bc
    Q = np.roll(bc, -1, axis=1)
    d = Q - P
    ln = np.linalg.norm(d, axis=2)
    u = d / ln[..., None]
    s = lay.edge_setback[lay.block_edges]
    return P, u, ln, s


def _inside_inset(lay, blocks, pts, extra=0.0):
    """True where points (N,k,2) lie inside their block (N,) inset by the edge setbacks."""
    P, u, _, s = lay.block_geom
    Pb, ub, sb = P[blocks], u[blocks], s[blocks]              # (N,4,2), (N,4,2), (N,4)
    w = pts[:, :, None, :] - Pb[:, None, :, :]                  # (N,k,4,2)
    cr = ub[:, None, :, 0] * w[..., 1] - ub[:, None, :, 1] * w[..., 0]
    return np.all(cr >= sb[:, None, :] + extra - 1e-9, axis=(1, 2))


def _pond_shape(rng, centre, axis, rx, ry):
    t = np.sort(rng.uniform(0, 2 * np.pi, 14))
    r = 1 + rng.uniform(-0.08, 0.08, 14)
    local = np.stack([rx * r * np.cos(t), ry * r * np.sin(t)], axis=1)
    v = np.array([-axis[1], axis[0]])
    pts = centre + local[:, 0:1] * axis + local[:, 1:2] * v
    return pl.convex_hull(pts)


def _ponds(lay, rng):
    lay.block_geom = _block_geometry(lay)
    n_live = max(4, int(round(1300 * lay.n / KHULNA_BUILDINGS)))
    kind = lay.block_kind
    cand = np.array([b for b in np.nonzero((kind == "normal") | (kind == "lic"))[0]
                     if lay.block_clear[b] > 25])
    cen = lay.block_centre[cand]
    area_km2 = lay.block_area[lay.in_city].sum() / 1e6
    n_bumps = max(3, int(round(POND_BUMPS_PER_KM2 * area_km2)))
    bumps = cen[rng.choice(len(cand), size=n_bumps, replace=False)]
    sig = rng.uniform(*POND_BUMP_SIGMA, n_bumps)
    field = np.zeros(len(cand))
    for c, s in zip(bumps, sig):
        field += np.exp(-np.sum((cen - c) ** 2, axis=1) / (2 * s * s))
    wgt = POND_BASE + field ** POND_POWER
    wgt = wgt / wgt.sum()
    draws = rng.choice(len(cand), size=8 * n_live, replace=True, p=wgt)
    ponds = []
    per_block = {}
    _, ub, lnb, _ = lay.block_geom

    def try_place(b, deleted=False, near_main=False):
        u0 = ub[b, 0]
        ang = rng.uniform(-0.3, 0.3)
        axis = np.array([u0[0] * math.cos(ang) - u0[1] * math.sin(ang), u0[0] * math.sin(ang) + u0[1] * math.cos(ang)])
        rx, ry = rng.uniform(11, 31), rng.uniform(9, 23)
        for _ in range(6):
            off = rng.uniform(-0.3, 0.3, 2) * np.array([lnb[b, 0], lnb[b, 1]]) * 0.5
            centre = lay.block_centre[b] + off[0] * ub[b, 0] + off[1] * ub[b, 1]
            poly = _pond_shape(rng, centre, axis, rx, ry)
            ok = _inside_inset(lay, np.array([b]), poly[None], extra=3.0)[0]
            clr = water_clearance(lay, poly).min() if lay.block_clear[b] < 300 else np.inf
            ok &= clr > (12.0 if not near_main else 8.0)
            if near_main:
                ok &= clr < 60.0
            for q in per_block.get(b, []):
                ok &= not pl.convex_overlap(poly, ponds[q].ring, 6.0)
            if ok:
                ponds.append(SimpleNamespace(ring=poly, block=int(b), deleted=deleted))
                per_block.setdefault(int(b), []).append(len(ponds) - 1)
                return True
            rx, ry = rx * 0.85, ry * 0.85
        return False

    live = 0
    for k in draws:
        if live == n_live:
            break
        b = int(cand[k])
        if len(per_block.get(b, [])) < POND_MAX_PER_BLOCK and try_place(b):
            live += 1
    # soft-deleted ponds: one close to the main river, one anywhere
    main_clr = water_clearance(lay, lay.block_centre[cand], lay.rivers[:1])
    near = cand[(main_clr > 30) & (main_clr < 110)]
    for b in rng.permutation(near):
        if try_place(int(b), deleted=True, near_main=True):
            break
    for b in rng.permutation(cand):
        if try_place(int(b), deleted=True):
            break
    lay.ponds = ponds
    lay.block_ponds = per_block


# ---------------------------------------------------------------------------------------
# building footprints
# ---------------------------------------------------------------------------------------

# per block kind: rows of (width range, depth range, gap range)
_ROWS = {
    "normal": [((6.0, 14.0), (7.5, 17.0), (0.4, 2.2)), ((6.0, 12.0), (6.5, 12.0), (0.4, 2.2)),
               ((6.0, 11.0), (6.0, 10.0), (0.5, 2.5))],
    "lic": [((5.6, 8.6), (6.0, 10.0), (0.45, 1.1))] + [((5.6, 8.0), (5.8, 9.0), (0.45, 1.2))] * 3,
}
_ROW_GAP = 1.2


def _strips(lay, kind):
    P, u, ln, s = lay.block_geom
    blocks = np.nonzero(lay.block_kind == kind)[0]
    out = []
    offset = np.zeros((len(blocks), 4))
    for r, (wr, dr, gr) in enumerate(_ROWS[kind]):
        for k in range(4):
            e = lay.block_edges[blocks, k]
            out.append(dict(block=blocks, k=np.full(len(blocks), k), row=r,
                            P=P[blocks, k], u=u[blocks, k], L=ln[blocks, k],
                            off=s[blocks, k] + offset[:, k], wr=wr, dr=dr, gr=gr,
                            rank=np.where(lay.edge_road[e], lay.edge_rank[e], 3)))
        offset += dr[1] + _ROW_GAP
    return out


def _candidates(lay, rng, fill):
    parts = []
    strip_base = 0
    for kind in ("normal", "lic"):
        for st in _strips(lay, kind):
            S = len(st["block"])
            if S == 0:
                continue
            (w0, w1), (d0, d1), (g0, g1) = st["wr"], st["dr"], st["gr"]
            # sparser towards the edge of town (normal blocks)
            rad = lay.block_radius[st["block"]]
            gscale = (1.0 + (0.6 * np.clip(rad - 0.7, 0, None) if kind == "normal" else 0.0)) / fill
            M = int(np.ceil(st["L"].max() / (w0 + g0))) + 1
            W = rng.uniform(w0, w1, (S, M))
            G = rng.uniform(g0, g1, (S, M)) * np.atleast_1d(gscale)[:, None]
            D = rng.uniform(d0, d1, (S, M))
            t0 = rng.uniform(0, g1, S)
            step = W + G
            left = t0[:, None] + np.cumsum(step, axis=1) - step
            valid = left + W <= st["L"][:, None]
            si, mi = np.nonzero(valid)
            along = left[si, mi] + W[si, mi] / 2
            depth = D[si, mi]
            u = st["u"][si]
            v = pl.perp(u)
            c = st["P"][si] + u * along[:, None] + v * (st["off"][si] + depth / 2)[:, None]
            parts.append(dict(c=c, u=u, hw=W[si, mi] / 2, hd=depth / 2, block=st["block"][si],
                              k=st["k"][si], row=np.full(len(si), st["row"]), along=along,
                              strip=strip_base + si, rank=st["rank"][si]))
            strip_base += S
    cand = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    N = len(cand["c"])
    corners = pl.rect_corners(cand["c"], cand["u"], cand["hw"], cand["hd"])
    ok = _inside_inset(lay, cand["block"], corners)
    # rivers
    near = lay.block_clear[cand["block"]] < 260
    idx = np.nonzero(ok & near)[0]
    if len(idx):
        clr = water_clearance(lay, cand["c"][idx])
        rad = np.hypot(cand["hw"][idx], cand["hd"][idx])
        ok[idx[clr - rad < BANK_MARGIN]] = False
    # ponds (all of them, deleted ones too: a filled pond is not built on in the sample)
    order = np.argsort(cand["block"], kind="stable")
    sb = cand["block"][order]
    for p in lay.ponds:
        lo, hi = np.searchsorted(sb, p.block), np.searchsorted(sb, p.block, side="right")
        ids = order[lo:hi]
        if len(ids):
            ok[ids[pl.rects_convex_overlap(corners[ids], p.ring, POND_GAP)]] = False
    keep = np.nonzero(ok)[0]
    cand = {key: val[keep] for key, val in cand.items()}
    corners = corners[keep]
    N = len(keep)
    # conflicts between strips of the same block
    order = np.argsort(cand["block"], kind="stable")
    blk = cand["block"][order]
    ub, start, cnt = np.unique(blk, return_index=True, return_counts=True)
    I_all, J_all = [], []
    for m in np.unique(cnt):
        if m < 2:
            continue
        st = start[cnt == m]
        iu, ju = np.triu_indices(m, 1)
        I_all.append(order[(st[:, None] + iu[None, :]).ravel()])
        J_all.append(order[(st[:, None] + ju[None, :]).ravel()])
    I = np.concatenate(I_all)
    J = np.concatenate(J_all)
    m = cand["strip"][I] != cand["strip"][J]
    I, J = I[m], J[m]
    rr = np.hypot(cand["hw"], cand["hd"])
    m = np.linalg.norm(cand["c"][I] - cand["c"][J], axis=1) < rr[I] + rr[J] + BUILDING_GAP
    I, J = I[m], J[m]
    m = pl.rects_overlap(cand["c"][I], cand["u"][I], cand["hw"][I], cand["hd"][I],
                         cand["c"][J], cand["u"][J], cand["hw"][J], cand["hd"][J], BUILDING_GAP)
    I, J = I[m], J[m]
    prio = np.lexsort((rng.random(N), cand["rank"], cand["row"]))
    rank = np.empty(N, dtype=np.int64)
    rank[prio] = np.arange(N)
    src = np.concatenate([I, J])
    dst = np.concatenate([J, I])
    o = np.argsort(src, kind="stable")
    src, dst = src[o], dst[o]
    ptr = np.searchsorted(src, np.arange(N + 1))
    kept = np.ones(N, dtype=bool)
    conflicted = np.zeros(N, dtype=bool)
    conflicted[src] = True
    for i in prio[conflicted[prio]]:
        nb = dst[ptr[i]:ptr[i + 1]]
        nb = nb[rank[nb] < rank[i]]
        if kept[nb].any():
            kept[i] = False
    sel = np.nonzero(kept)[0]
    lay.cand = {key: val[sel] for key, val in cand.items()}
    lay.capacity = len(sel)


# ---------------------------------------------------------------------------------------
# drains, sewers, water supply pipes
# ---------------------------------------------------------------------------------------

def _networks(lay, rng):
    roads = np.nonzero(lay.edge_road)[0]
    mid = 0.5 * (lay.edge_a[roads] + lay.edge_b[roads])
    rad = _norm_radius(lay, mid)
    rank = lay.edge_rank[roads]
    # drains: most main roads, fewer lanes (more in the centre)
    p_drain = np.where(rank <= 1, 0.8, np.where(rad < 0.6, 0.38, 0.18))
    lay.drain_roads = roads[rng.random(len(roads)) < p_drain]
    # water supply: the central part of town
    cut = np.quantile(rad, 0.6)
    p_pipe = np.where(rad < cut, 0.88, 0.0)
    lay.pipe_roads = roads[rng.random(len(roads)) < p_pipe]
    # sewers: the sewered zone
    d = np.linalg.norm(mid - lay.sewer_centre, axis=1)
    lay.sewer_roads = roads[(d < lay.sewer_radius) & (rng.random(len(roads)) < 0.96)]
