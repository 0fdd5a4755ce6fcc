"""Per-building attributes: spatial facts first, then surveyed attributes.

Spatial facts (frame metres): the ward polygon containing the footprint, the nearest live
road, drain, sewer and pipe with their distances, distance to water, LIC membership.
Surveyed attributes follow IMIS's rules (EDITING.md 3-7): use category within its
functional use, population = male + female + other, sanitation system consistent with
toilet presence and networks, codes only where the system needs them.
"""
import datetime as dt

import numpy as np

from . import layout, names
from . import planar as pl

MUNICIPAL = 10          # water_sources id of 'Municipal/Public water supply' in the seeded lookups
NEAR_NETWORK = 60.0     # a building may use a network line this close (m)


def _choice(rng, mapping, size):
    keys = list(mapping)
    p = np.array([mapping[k] for k in keys], dtype=float)
    return np.array(keys, dtype=object)[rng.choice(len(keys), size=size, p=p / p.sum())]


def corners(b):
    return pl.rect_corners(b.c, b.u, b.hw, b.hd)


def spatial(ctx):
    lay, b, net = ctx.lay, ctx.b, ctx.net
    N = len(b.c)
    cor = corners(b)
    b.corners = cor
    b.rad = layout._norm_radius(lay, b.c)
    # ward containing the footprint (all footprints but the OUTSIDE_CITY ones lie in one block)
    b.ward_geo = np.where(b.block >= 0, lay.block_ward[np.maximum(b.block, 0)], -1)

    def nearest(lines, radius=120.0, wider=None):
        idx = np.nonzero(lines.live)[0]
        si = pl.SegmentIndex(lines.a[idx], lines.b[idx], radius=radius, cell=50.0)
        s, d = si.nearest_to_polygons(cor, anchor=b.c)
        miss = np.nonzero(s < 0)[0]
        if wider and len(miss):
            # the few footprints far from every line (river-side blocks): a wider search
            si = pl.SegmentIndex(lines.a[idx], lines.b[idx], radius=wider, cell=100.0)
            s2, d2 = si.nearest_to_polygons(cor[miss], anchor=b.c[miss])
            s[miss], d[miss] = s2, d2
        return np.where(s >= 0, idx[np.maximum(s, 0)], -1), d

    b.road, b.road_d = nearest(net.roads, wider=1000.0)
    assert (b.road >= 0).all(), "a footprint has no road within 1 km"
    b.drain, b.drain_d = nearest(net.drains)
    b.sewer, b.sewer_d = nearest(net.sewers)
    b.pipe, b.pipe_d = nearest(net.pipes)
    # outside-city footprints take the ward of the block across their road
    out = np.nonzero(b.ward_geo < 0)[0]
    for i in out:
        e = net.roads.edge[b.road[i]]
        blocks = [x for x in lay.edge_adj[e] if x >= 0 and lay.in_city[x]]
        b.ward_geo[i] = lay.block_ward[blocks[0]]
    b.ward = b.ward_geo.copy()
    # water: rivers (clearance of the centre minus the half diagonal) and live ponds
    b.river_d = layout.water_clearance(lay, b.c) - np.hypot(b.hw, b.hd)
    rings = [p.ring for p in lay.ponds if not p.deleted]
    a = np.concatenate(rings)
    bb = np.concatenate([np.roll(r, -1, 0) for r in rings])
    si = pl.SegmentIndex(a, bb, radius=140.0, cell=60.0)
    _, b.pond_d = si.nearest_to_polygons(cor, anchor=b.c)
    b.water_d = np.minimum(b.river_d, b.pond_d)
    # low-income communities
    b.lic = np.zeros(N, dtype=np.int64)
    for lic_id, grp in enumerate(lay.lic_groups, start=1):
        b.lic[np.isin(b.block, grp)] = lic_id
    b.area_m2 = 4 * b.hw * b.hd


def order_bins(ctx):
    """BIN numbers: survey order = ward, road, position; the extra (planted) rows last."""
    b = ctx.b
    extra = np.isin(b.role, ["DUPLICATE_FOOTPRINT", "OVERLAP", "SLIVER", "OUTSIDE_CITY", "DELETED_DUPLICATE"])
    key = np.lexsort((b.along, b.road, b.ward, extra))
    b.order = key                              # building indices in BIN order
    b.bin_no = np.empty(len(key), dtype=np.int64)
    b.bin_no[key] = np.arange(1, len(key) + 1)
    b.bin = np.array(["B%06d" % x for x in b.bin_no], dtype=object)


def _dates(rng, N):
    start = dt.date(2023, 1, 8).toordinal()
    surveyed = start + rng.integers(0, 420, N)
    created = surveyed + rng.integers(1, 45, N)
    secs = rng.integers(9 * 3600, 18 * 3600, N)
    upd_days = np.where(rng.random(N) < 0.3, rng.integers(1, 300, N), 0)
    upd_secs = np.where(upd_days > 0, rng.integers(9 * 3600, 18 * 3600, N), secs)
    return surveyed, created, secs, created + upd_days, upd_secs


_ISO = {}


def iso(day):
    day = int(day)
    s = _ISO.get(day)
    if s is None:
        s = _ISO[day] = dt.date.fromordinal(day).isoformat()
    return s


def ts(day, sec):
    sec = int(sec)
    return f"{iso(day)} {sec // 3600:02d}:{sec // 60 % 60:02d}:{sec % 60:02d}"


def assign(ctx):
    """Surveyed attributes of every building (arrays in ``ctx.b``)."""
    rng, b, lay, net = ctx.rng, ctx.b, ctx.lay, ctx.net
    N = len(b.c)
    lic = b.lic > 0
    core = b.rad < 0.5
    periph = b.rad > 0.8
    strategic = np.array([net.roads.rank[r] == 0 for r in b.road])
    # structure type (ids relabelled Pucca, Semi-pucca, Katcha, Tin-shed)
    st = np.zeros(N, dtype=np.int64)
    for mask, p in ((core & ~lic, {1: .50, 2: .28, 3: .07, 4: .15}),
                    (~core & ~periph & ~lic, {1: .35, 2: .32, 3: .11, 4: .22}),
                    (periph & ~lic, {1: .20, 2: .30, 3: .20, 4: .30}),
                    (lic, {1: .03, 2: .17, 3: .30, 4: .50})):
        st[mask] = _choice(rng, p, mask.sum()).astype(np.int64)
    st[b.area_m2 > 220] = np.where(rng.random((b.area_m2 > 220).sum()) < 0.8, 1, st[b.area_m2 > 220])
    st[rng.random(N) < 0.003] = 0         # structure type not recorded (a few)
    b.structure = st
    # floors
    fl = np.ones(N, dtype=np.int64)
    pucca = st == 1
    fl[pucca] = _choice(rng, {1: .16, 2: .26, 3: .22, 4: .15, 5: .1, 6: .06, 7: .03, 8: .02}, pucca.sum()).astype(np.int64)
    fl[pucca & core] += (rng.random((pucca & core).sum()) < 0.3)
    semi = st == 2
    fl[semi] = np.where(rng.random(semi.sum()) < 0.12, 2, 1)
    b.floors = fl
    # functional use and use category
    fu = np.ones(N, dtype=np.int64)
    gen = {1: .835, 2: .05, 5: .045, 3: .012, 4: .005, 6: .01, 7: .004, 8: .004, 9: .004, 10: .002,
           11: .004, 12: .014, 13: .003, 14: .008}
    strat = {1: .45, 2: .22, 5: .22, 3: .02, 4: .02, 6: .01, 9: .01, 12: .02, 13: .02, 14: .01}
    licp = {1: .93, 2: .02, 5: .03, 12: .01, 14: .01}
    for mask, p in ((~lic & ~strategic, gen), (~lic & strategic, strat), (lic, licp)):
        fu[mask] = _choice(rng, p, mask.sum()).astype(np.int64)
    b.fu = fu
    cats = {1: {1: .84, 2: .05, 3: .08, 6: .015, 4: .008, 5: .007}, 2: {7: 1.0},
            3: {8: .6, 9: .2, 11: .15, 10: .05}, 4: {13: .8, 12: .2},
            5: {14: .55, 15: .1, 16: .05, 17: .12, 18: .03, 19: .02, 20: .13},
            6: {21: .2, 22: .3, 23: .2, 24: .2, 25: .1}, 7: {26: .5, 27: .5},
            8: {28: .05, 29: .05, 30: .15, 31: .15, 32: .3, 33: .3},
            9: {37: .5, 38: .35, 39: .1, 40: .05}, 10: {43: .4, 44: .05, 45: .15, 46: .1, 47: .15, 48: .15},
            11: {49: .4, 50: .1, 51: .2, 53: .1, 54: .2}, 12: {57: .75, 55: .2, 56: .03, 63: .02},
            13: {64: .7, 65: .3}, 14: {66: .5, 67: .5}}
    uc = np.zeros(N, dtype=np.int64)
    for f, p in cats.items():
        m = fu == f
        uc[m] = _choice(rng, p, m.sum()).astype(np.int64)
    apt = (uc == 3) & (fl < 4)
    uc[apt] = 1
    uc[rng.random(N) < 0.02] = 0          # category not recorded
    b.uc = uc
    # households and population
    hh = np.zeros(N, dtype=np.int64)
    res = np.isin(fu, [1, 2])
    hh[res] = np.maximum(1, fl[res] * rng.integers(1, 3, res.sum()) - (fu[res] == 2))
    hh[res & lic] = rng.integers(1, 4, (res & lic).sum())
    hh[res & (st == 3)] = 1
    hh[(uc == 66) | (uc == 67)] = 0
    size = rng.choice([2, 3, 4, 4, 5, 5, 6, 7], size=N)
    pop = np.where(hh > 0, hh * size - rng.integers(0, 2, N) * (hh > 1), 0)
    other = ((rng.random(N) < 0.004) & (pop > 2)).astype(np.int64)
    male = rng.binomial(np.maximum(pop - other, 0), 0.51)
    female = pop - other - male
    b.hh, b.pop, b.male, b.female, b.other = hh, pop, male, female, other
    b.dam = rng.binomial(male, 0.015)
    b.daf = rng.binomial(female, 0.012)
    b.dao = rng.binomial(other, 0.05)
    b.low_income = np.where(lic, rng.random(N) < 0.88, (rng.random(N) < np.where(st >= 3, 0.10, 0.015)))
    # water source
    ws = np.zeros(N, dtype=np.int64)
    can_pipe = b.pipe_d <= NEAR_NETWORK
    muni = can_pipe & (rng.random(N) < np.where(core, 0.7, 0.5))
    ws[muni] = MUNICIPAL
    rest = ~muni
    ws[rest] = _choice(rng, {6: .52, 7: .2, 1: .06, 9: .04, 2: .03, 3: .02, 5: .05, 8: .03, 4: .02},
                       rest.sum()).astype(np.int64)
    far_water = (ws == 9) & (b.pond_d > 150)
    ws[far_water] = 6
    far_river = (ws == 3) & (b.river_d > 150)
    ws[far_river] = 7
    b.ws = ws
    b.pipe_code = [net.pipes.code[p] if w == MUNICIPAL else None for p, w in zip(b.pipe, ws)]
    b.well = np.where(np.isin(ws, [6, 7, 8]), rng.random(N) < 0.8, rng.random(N) < 0.05)
    b.well_known = rng.random(N) > 0.05
    # dates
    b.surveyed, b.created, b.created_s, b.updated, b.updated_s = _dates(rng, N)
    age = np.where(st == 1, rng.integers(1, 35, N), rng.integers(2, 55, N))
    b.construction = b.surveyed - age * 365 - rng.integers(0, 365, N)
    b.user = rng.choice([2, 3], size=N, p=[0.6, 0.4])
    b.verified = rng.random(N) < 0.96
    # names
    b.locality = [None] * N
    ward_locs = {w: [names.locality(rng) for _ in range(4)] for w in range(1, lay.n_wards + 1)}
    blk_loc = {}
    for i in range(N):
        key = int(b.block[i])
        if key not in blk_loc:
            locs = ward_locs[int(b.ward[i])]
            blk_loc[key] = locs[int(rng.integers(len(locs)))]
        b.locality[i] = blk_loc[key]
    b.business = [None] * N
    for i in np.nonzero(fu != 1)[0]:
        f = fu[i]
        if f == 12:
            kind = {57: "Jame Masjid", 55: "Mandir", 56: "Church", 63: "Cultural Centre"}.get(int(uc[i]), "Masjid")
            b.business[i] = f"{b.locality[i]} {kind}"
        elif f == 3:
            b.business[i] = f"{b.locality[i]} {'High School' if uc[i] == 8 else 'College' if uc[i] == 9 else 'Institute'}"
        elif f == 4:
            b.business[i] = f"{b.locality[i]} {'Hospital' if uc[i] == 12 else 'Clinic'}"
        elif f == 14:
            b.business[i] = None
        elif rng.random() < 0.8:
            b.business[i] = f"{names.SURNAME_M[int(rng.integers(len(names.SURNAME_M)))]} " \
                            f"{names.BUSINESS[int(rng.integers(len(names.BUSINESS)))]}"
