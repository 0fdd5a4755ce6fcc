"""The seeded sample town: ``generate(n_buildings, seed) -> Town``.

A plausible Bangladeshi municipality around Khulna (lon 89.55, lat 22.82, UTM 45N) at
Khulna's building density (156,052 buildings on 46 km2), with every IMIS table the plugin
reads filled consistently, soft-deleted rows of each kind, and planted survey defects
recorded in ``Town.manifest``. Everything is deterministic from the seed.
"""
import time
from dataclasses import dataclass, field
from types import SimpleNamespace

import numpy as np

from . import attributes, defects, footprints, geo, layout, names, networks, sanitation
from . import planar as pl
from .tables import TABLES, columns

KHULNA_BUILDINGS = layout.KHULNA_BUILDINGS
FAKE_PASSWORD = "$2y$10$SAMPLE.DATA.ONLY.this.is.not.a.real.bcrypt.hash.000000"

NOTES = {
    "defects": "Each code lists its planted cases; every other live row is clean of all codes. "
               "DUPLICATE_FOOTPRINT pairs are also OVERLAP pairs; OUTSIDE_CITY buildings lie in no ward.",
    "ward": "buildings.ward = the ward polygon containing the footprint (footprints never cross wards)",
    "road_code": "nearest live road by footprint distance; where two roads tie (their shared junction), the lower code",
    "estimated_area": "round(ST_Area(geom::geography)::numeric, 2) exactly, except AREA_MISMATCH",
    "containment_point": "area centroid of the (first) linked footprint; a second containment a few metres off",
    "codes": "sewer/drain/pipe codes are live lines within 60 m, except CODE_DELETED and CODE_FAR",
    "n_buildings": "rows in building_info.buildings, soft-deleted ones included",
}

LOOKUP_OVERRIDES = {
    # Bangladesh deployment: structure types relabelled (DATABASE.md 12.1)
    "building_info.structure_types": {
        "key": "id",
        "rows": [{"id": 1, "type": "Pucca"}, {"id": 2, "type": "Semi-pucca"},
                 {"id": 3, "type": "Katcha"}, {"id": 4, "type": "Tin-shed"}],
    },
}


@dataclass
class Table:
    name: str
    columns: list
    rows: list = field(default_factory=list)


@dataclass
class Town:
    n_buildings: int
    seed: int
    tables: dict                 # qualified name -> Table, in foreign-key-safe load order
    lookup_overrides: dict
    manifest: dict
    timings: dict = field(default_factory=dict)

    def columns(self, table):
        return self.tables[table].columns

    def rows(self, table):
        return self.tables[table].rows

    def counts(self):
        return {name: len(t.rows) for name, t in self.tables.items()}


def generate(n_buildings: int = 3000, seed: int = 7) -> Town:
    if n_buildings < 1000:
        raise ValueError("the sample town needs at least 1000 buildings")
    t0 = time.time()
    rng = np.random.default_rng(seed)
    n = int(n_buildings)
    fill = 1.0
    for attempt in range(6):
        lay = layout.build(n, np.random.default_rng([seed, attempt]), fill=fill)
        if lay.capacity >= 1.03 * n:
            break
        fill *= 1.12
    else:
        raise RuntimeError("could not lay out enough building plots")
    t1 = time.time()
    ctx = SimpleNamespace(lay=lay, rng=rng, n=n)
    ctx.net = networks.build(lay, rng)
    b = ctx.b = footprints.select(lay, rng, n)
    footprints.reshape_specials(lay, rng, b)
    attributes.spatial(ctx)
    attributes.order_bins(ctx)
    attributes.assign(ctx)
    ctx.prev, ctx.nxt = sanitation.strip_neighbours(b)
    sanitation.toilets(ctx)
    sanitation.annexes(ctx)
    sanitation.systems(ctx)
    sanitation.containments(ctx)
    sanitation.community_links(ctx)
    defects.plant(ctx)
    sanitation.containment_rows(ctx)
    t2 = time.time()
    town = _assemble(ctx, seed)
    t3 = time.time()
    town.timings = {"layout_s": round(t1 - t0, 2), "attributes_s": round(t2 - t1, 2), "tables_s": round(t3 - t2, 2)}
    return town


# ---------------------------------------------------------------------------------------
# tables
# ---------------------------------------------------------------------------------------

def _ts(day, sec=43200):
    return attributes.ts(day, sec)


def _assemble(ctx, seed):
    lay, rng, b, net = ctx.lay, ctx.rng, ctx.b, ctx.net
    T = {name: Table(name, columns(name)) for name in TABLES}
    ctx.T = T
    day0 = int(b.surveyed.min()) - 60            # base layers loaded before the survey
    ctx.base_ts = _ts(day0, 36000)
    _plants_users(ctx, T)
    _wards_city(ctx, T)
    _water(ctx, T)
    _landuse(ctx, T)
    lic_ids = _lics_geometry(ctx)
    _networks(ctx, T)
    _buildings(ctx, T)
    _containments(ctx, T)
    _toilets(ctx, T)
    _lics(ctx, T, lic_ids)
    _places(ctx, T)
    _ward_counters(ctx, T)
    town = Town(n_buildings=ctx.n, seed=seed, tables=T, lookup_overrides=LOOKUP_OVERRIDES,
                manifest=_manifest(ctx, T, seed))
    return town


def _plants_users(ctx, T):
    lay, rng = ctx.lay, ctx.rng
    ctx.plants = []
    for k, blk in enumerate(lay.plant_blocks, start=1):
        p = geo.lonlat(lay, lay.block_centre[blk])
        fstp = k == 1
        name = f"{names.TOWN_NAME.split()[0]} {'Faecal Sludge Treatment Plant' if fstp else 'Sewage Treatment Plant'}"
        T["fsm.treatment_plants"].rows.append((
            k, name, f"Ward {int(lay.block_ward[blk])}, near the river", 3 if fstp else 1,
            80.0 if fstp else 4500.0, names.person(rng, "Male"), "Male",
            8801700000000 + int(rng.integers(1e8, 9e8)), True, geo.wkt_point(p),
            ctx.base_ts, ctx.base_ts, None))
        ctx.plants.append(k)
    users = [(1, "IMIS Administrator", "Male", "admin", "admin@nilganj.example", "Municipality", None),
             (2, "Survey Supervisor", "Female", "survey.supervisor", "survey@nilganj.example", "Municipality", None),
             (3, "Field Surveyor", "Male", "field.surveyor", "field@nilganj.example", "Municipality", None),
             (4, "FSTP Operator", "Male", "fstp.operator", "fstp@nilganj.example", "Treatment Plant", 1)]
    for uid, name, gender, username, email, utype, tp in users:
        T["auth.users"].rows.append((uid, name, gender, username, email, FAKE_PASSWORD, None, utype, tp,
                                     None, None, 1, ctx.base_ts, ctx.base_ts, None))


def _union(rings_list):
    from osgeo import ogr

    coll = ogr.Geometry(ogr.wkbMultiPolygon)
    for r in rings_list:
        coll.AddGeometry(geo.ogr_polygon([r]))
    return coll.UnionCascaded()


def _wards_city(ctx, T):
    lay = ctx.lay
    ctx.ward_polys = {}
    for w in range(1, lay.n_wards + 1):
        blocks = np.nonzero(lay.in_city & (lay.block_ward == w))[0]
        g = _union([lay.block_corners[x] for x in blocks])
        polys = geo.polys_lonlat(lay, geo.ogr_to_polys(g))
        ctx.ward_polys[w] = polys
    city = _union([lay.block_corners[x] for x in np.nonzero(lay.in_city)[0]])
    polys = geo.polys_lonlat(lay, geo.ogr_to_polys(city))
    area = geo.polys_area(polys)
    ctx.city_area_km2 = area / 1e6
    T["layer_info.citypolys"].rows.append((1, names.TOWN_NAME, round(area / 1e6, 3), geo.wkt_multipolygon(polys),
                                           ctx.base_ts, ctx.base_ts, None))


def _water(ctx, T):
    lay, rng = ctx.lay, ctx.rng
    rows = T["layer_info.waterbodys"].rows
    river_names = list(rng.permutation(names.RIVER_NAMES))
    ctx.river_ids, ctx.pond_ids, ctx.deleted_ponds = [], [], []
    wid = 0
    for r in lay.rivers:
        wid += 1
        nm = river_names.pop()
        label = f"{nm} River" if r.kind == "main" else f"{nm} Khal"
        polys = [[geo.lonlat(lay, r.ring)]]
        rows.append((wid, label, "River", geo.wkt_multipolygon(polys), ctx.base_ts, ctx.base_ts, None))
        ctx.river_ids.append(wid)
    order = [p for p in lay.ponds if not p.deleted] + [p for p in lay.ponds if p.deleted]
    for p in order:
        wid += 1
        nm = None
        if rng.random() < 0.55:
            nm = f"{names.locality(rng)} {'Dighi' if pl.polygon_area(p.ring) > 1500 else 'Pukur'}"
        deleted = _ts(int(ctx.b.surveyed.min()) + 200, 40000) if p.deleted else None
        rows.append((wid, nm, "Pond", geo.wkt_multipolygon([[geo.lonlat(lay, p.ring)]]), ctx.base_ts,
                     deleted or ctx.base_ts, deleted))
        (ctx.deleted_ponds if p.deleted else ctx.pond_ids).append(wid)
        p.id = wid


def _landuse(ctx, T):
    from osgeo import ogr

    lay = ctx.lay
    river_geoms = [geo.ogr_polygon([r.ring]) for r in lay.rivers]
    rows = T["layer_info.landuses"].rows
    lid = 0
    cls = {"normal": "Builtup", "lic": "Builtup", "open": "Open Space", "plant": "Public Utility"}
    for blk in np.nonzero(lay.in_city & ~lay.block_water)[0]:
        kind = lay.block_kind[blk]
        if kind not in cls:
            continue
        g = geo.ogr_polygon([lay.block_corners[blk]])
        if lay.block_clear[blk] < 150:
            for rg in river_geoms:
                if g.Intersects(rg):
                    g = g.Difference(rg)
        polys = geo.ogr_to_polys(g)
        if not polys or g.GetArea() < 50:
            continue
        if ogr.GT_Flatten(g.GetGeometryType()) not in (ogr.wkbPolygon, ogr.wkbMultiPolygon):
            continue
        ll = geo.polys_lonlat(lay, polys)
        lid += 1
        rows.append((lid, cls[kind], geo.round2(geo.polys_area(ll)), geo.wkt_multipolygon(ll),
                     ctx.base_ts, ctx.base_ts, None))


def _lics_geometry(ctx):
    lay, rng = ctx.lay, ctx.rng
    ctx.lic_rows = []
    for grp in lay.lic_groups:
        g = _union([lay.block_corners[x] for x in grp])
        ctx.lic_rows.append(dict(polys=geo.polys_lonlat(lay, geo.ogr_to_polys(g)), deleted=False,
                                 name=f"{names.locality(rng)} {['Bosti', 'Colony', 'Slum', 'Para'][int(rng.integers(4))]}"))
    # soft-deleted: an old boundary of the first LIC, and a community since cleared
    first = lay.lic_groups[0]
    ctx.lic_rows.append(dict(polys=geo.polys_lonlat(lay, geo.ogr_to_polys(_union([lay.block_corners[first[0]]]))),
                             deleted=True, name=ctx.lic_rows[0]["name"] + " (old boundary)"))
    used = {x for g in lay.lic_groups for x in g}
    normal = [int(x) for x in np.nonzero(lay.block_kind == "normal")[0] if int(x) not in used]
    blk = normal[int(rng.integers(len(normal)))]
    ctx.lic_rows.append(dict(polys=geo.polys_lonlat(lay, geo.ogr_to_polys(_union([lay.block_corners[blk]]))),
                             deleted=True, name=f"{names.locality(rng)} Bosti (cleared)"))
    return list(range(1, len(ctx.lic_rows) + 1))


def _seg_wkt(lay, a, b):
    return geo.wkt_multilinestring([geo.lonlat(lay, np.array([a, b]))])


def _seg_len(lay, a, b):
    return geo.round2(geo.line_length(geo.lonlat(lay, np.array([a, b]))))


def _networks(ctx, T):
    lay, rng, net = ctx.lay, ctx.rng, ctx.net
    base = ctx.base_ts
    dday = int(ctx.b.surveyed.min()) - 20
    r = net.roads
    for i, code in enumerate(r.code):
        deleted = _ts(dday, 50000) if r.deleted[i] else None
        T["utility_info.roads"].rows.append((
            code, r.name[i], layout.HIERARCHY[r.rank[i]], float(r.row[i]), float(r.carrying[i]), r.surface[i],
            _seg_len(lay, r.a[i], r.b[i]), _seg_wkt(lay, r.a[i], r.b[i]), 1, base, deleted or base, deleted))
    wwtp = ctx.plants[-1]
    d = net.drains
    for i, code in enumerate(d.code):
        rank = r.rank[d.road[i]]
        deleted = _ts(dday, 51000) if d.deleted[i] else None
        T["utility_info.drains"].rows.append((
            code, r.code[d.road[i]], str(rng.choice(["Open", "Closed", "Unknown"], p=[.55, .4, .05])),
            str(rng.choice(["Lined", "Unlined", "Unknown"], p=[.7, .25, .05])),
            float(rng.choice([300, 450, 600, 750, 900]) if rank <= 1 else rng.choice([200, 250, 300, 450])),
            _seg_len(lay, d.a[i], d.b[i]), ctx.plants[0] if rng.random() < 0.1 else None,
            _seg_wkt(lay, d.a[i], d.b[i]), 1, base, deleted or base, deleted))
    s = net.sewers
    for i, code in enumerate(s.code):
        deleted = _ts(dday, 52000) if s.deleted[i] else None
        loc = {0.0: "Middle", -1.0: "Right", 1.0: "Left"}[float(s.side[i])]
        T["utility_info.sewers"].rows.append((
            code, r.code[s.road[i]], loc, _seg_len(lay, s.a[i], s.b[i]),
            float(rng.choice([200, 250, 300, 450]) if r.rank[s.road[i]] <= 1 else rng.choice([150, 200])),
            wwtp, _seg_wkt(lay, s.a[i], s.b[i]), 1, base, deleted or base, deleted))
    p = net.pipes
    proj = [f"{names.TOWN_NAME.split()[0]} Water Supply Project Phase {x}" for x in ("I", "II")]
    for i, code in enumerate(p.code):
        rank = r.rank[p.road[i]]
        deleted = _ts(dday, 53000) if p.deleted[i] else None
        T["utility_info.water_supplys"].rows.append((
            code, r.code[p.road[i]], proj[int(rng.random() < 0.4)], ["Main", "Secondary", "Distribution"][rank],
            str(rng.choice(["HDPE", "GI", "Others"], p=[.6, .3, .1])),
            float([rng.choice([300, 350, 400]), rng.choice([150, 200, 250]), rng.choice([63, 75, 90, 110])][rank]),
            _seg_len(lay, p.a[i], p.b[i]), _seg_wkt(lay, p.a[i], p.b[i]), 1, base, deleted or base, deleted))


def _building_geometry(ctx):
    """WKT, geodesic area and lon/lat centroid of every footprint."""
    lay, b = ctx.lay, ctx.b
    N = len(b.c)
    b.wkt = [None] * N
    b.area = np.full(N, np.nan)
    b.centroid_ll = np.full((N, 2), np.nan)
    rect = np.nonzero(np.isin(b.shape, ["rect"]))[0]
    q = geo.lonlat(lay, b.corners[rect])
    wkts = geo.wkt_rect_batch(q)
    cen = geo.quad_centroids(q)
    for k, i in enumerate(rect):
        b.wkt[i] = wkts[k]
        b.area[i] = geo.ring_area(q[k])
        b.centroid_ll[i] = cen[k]
    for i in np.nonzero(np.isin(b.shape, ["multi", "bowtie"]))[0]:
        polys = geo.polys_lonlat(lay, b.polys[i])
        b.wkt[i] = geo.wkt_multipolygon(polys)
        b.area[i] = geo.polys_area(polys)
        b.centroid_ll[i] = geo.lonlat(lay, b.c[i])
    b.centroid_ll = np.round(b.centroid_ll, geo.DECIMALS)


def _derive(ctx):
    """Columns that follow from the links and the system (EDITING.md 7), after defects."""
    b, net, rng = ctx.b, ctx.net, ctx.rng
    N = len(b.c)
    live_links = {}
    all_links = {}
    for ln in ctx.links:
        if getattr(ctx.conts[ln.c], "dropped", False):
            continue
        all_links.setdefault(ln.b, []).append(ln)
        if not ln.deleted and not ctx.conts[ln.c].deleted:
            live_links.setdefault(ln.b, []).append(ln)
    b.sewer_code = [None] * N
    b.drain_code = [None] * N
    for i in range(N):
        s = b.ss[i]
        if s == 1:
            b.sewer_code[i] = net.sewers.code[b.sewer[i]]
        elif s == 2:
            b.drain_code[i] = net.drains.code[b.drain[i]]
        elif s in (3, 4, 11):
            lk = all_links.get(i, []) if b.deleted[i] else live_links.get(i, [])
            types = {ctx.conts[ln.c].type for ln in lk}
            if types & {1, 13}:
                b.sewer_code[i] = net.sewers.code[b.sewer[i]] if b.sewer[i] >= 0 else None
            if types & {2, 14}:
                b.drain_code[i] = net.drains.code[b.drain[i]] if b.drain[i] >= 0 else None
    for i, fld, code in ctx.code_deleted:
        if fld == "drain_code":
            b.drain_code[i] = code
        elif fld == "sewer_code":
            b.sewer_code[i] = code
        else:
            b.pipe_code[i] = code
    for i in range(N):
        if b.ws[i] != attributes.MUNICIPAL:
            b.pipe_code[i] = None
    b.live_links = live_links


def _buildings(ctx, T):
    lay, rng, b, net = ctx.lay, ctx.rng, ctx.b, ctx.net
    _building_geometry(ctx)
    _derive(ctx)
    N = len(b.c)
    toilet = np.isin(b.ss, [1, 2, 3, 4, 5, 6, 7, 8, 11])
    no_toilet = np.isin(b.ss, [9, 10, 12])
    house_counter = {}
    tax_counter = {}
    tax_of = {}
    b.deleted_day = np.zeros(N, dtype=np.int64)
    b.house = [None] * N
    rows = T["building_info.buildings"].rows
    road_cw = np.array(net.roads.carrying)
    R = rng.random((N, 6))
    del_days = rng.integers(30, 230, N)
    del_secs = rng.integers(41000, 61000, N)
    for i in b.order:
        i = int(i)
        r = R[i]
        rc = net.roads.code[b.road[i]]
        house_counter[rc] = house_counter.get(rc, 0) + 1
        b.house[i] = f"{rc} - {house_counter[rc]:04d}"
        w = int(b.ward[i])
        tax_counter[w] = tax_counter.get(w, 0) + 1
        tax = f"{w:02d}-{tax_counter[w]:05d}"
        if b.role[i] == "DUPLICATE_FOOTPRINT":
            tax = tax_of[int(b.partner[i])]            # the same holding surveyed twice
        tax_of[i] = tax
        s = int(b.ss[i])
        area = None
        if b.shape[i] != "null":
            area = geo.round2(b.area[i] * b.area_factor[i])
        has_t = bool(toilet[i])
        t_status = True if has_t else (False if no_toilet[i] else None)
        tcount = hh_t = pop_t = None
        if has_t:
            tcount = int(max(1, b.floors[i] + (r[0] < 0.3))) if b.hh[i] > 0 else 1
            hh_t = int(b.hh[i])
            pop_t = int(b.pop[i])
        desl = None
        if s in (3, 4, 11):
            desl = bool(road_cw[b.road[i]] >= 2.5 and r[1] < 0.93)
        muni = b.ws[i] == attributes.MUNICIPAL
        cust = f"WS{w:02d}{int(b.bin_no[i]):07d}" if muni and r[2] < 0.8 else None
        well = bool(b.well[i]) if b.well_known[i] else None
        dwell = round(3 + 22 * float(r[3]), 1) if well else None
        swm = f"SWM-{w:02d}-{int(b.bin_no[i]):06d}" if r[4] < 0.6 else None
        created = _ts(b.created[i], b.created_s[i])
        updated = _ts(b.updated[i], b.updated_s[i])
        deleted = None
        if b.deleted[i]:
            dday = int(b.updated[i]) + int(del_days[i])
            deleted = updated = _ts(dday, int(del_secs[i]))
            b.deleted_day[i] = dday
        rows.append((
            b.bin[i], b.bin[b.main_of[i]] if b.main_of[i] >= 0 else None, w, rc, b.house[i], b.locality[i], tax,
            int(b.structure[i]) if b.structure[i] else None, attributes.iso(b.surveyed[i]), float(b.floors[i]),
            attributes.iso(b.construction[i]), int(b.fu[i]), int(b.uc[i]) if b.uc[i] else None,
            b.business[i] if b.fu[i] != 1 else None, int(b.hh[i]), int(b.pop[i]), int(b.male[i]),
            int(b.female[i]), int(b.other[i]), int(b.dam[i]), int(b.daf[i]), int(b.dao[i]), bool(b.low_income[i]),
            int(b.lic[i]) if b.lic[i] else None, int(b.ws[i]), b.pipe_code[i], cust, well, dwell, swm,
            t_status, tcount, hh_t, pop_t, s if s else None, b.sewer_code[i], b.drain_code[i], desl,
            b.wkt[i], bool(b.verified[i]), area, int(b.user[i]), created, updated, deleted))
    _owners(ctx, T)


def _owners(ctx, T):
    rng, b = ctx.rng, ctx.b
    rows = T["building_info.owners"].rows
    N = len(b.c)
    R = rng.random((N, 4))
    gender = np.array(["Male", "Female", "Others"])[np.searchsorted([.78, .99], R[:, 0], side="right")]
    first_m = rng.integers(len(names.MALE), size=N)
    first_f = rng.integers(len(names.FEMALE), size=N)
    last_m = rng.integers(len(names.SURNAME_M), size=N)
    last_f = rng.integers(len(names.SURNAME_F), size=N)
    op = rng.choice([3, 5, 6, 7, 8, 9], size=N)
    num = rng.integers(0, 10 ** 9, size=N)
    nid10 = rng.integers(10 ** 9, 10 ** 10, size=N)
    nid_y = rng.integers(50, 99, size=N)
    nid13 = rng.integers(10 ** 12, 10 ** 13, size=N)
    oid = 0
    for i in b.order:
        i = int(i)
        if b.role[i] in ("SLIVER",) or b.main_of[i] >= 0 or R[i, 1] < 0.04:
            continue
        g = str(gender[i])
        oid += 1
        nid = None
        if R[i, 2] < 0.6:
            nid = str(int(nid10[i])) if R[i, 3] < 0.7 else f"19{int(nid_y[i])}{int(nid13[i])}"
        if g == "Female":
            name = f"{names.FEMALE[first_f[i]]} {names.SURNAME_F[last_f[i]]}"
        else:
            name = f"{names.MALE[first_m[i]]} {names.SURNAME_M[last_m[i]]}"
        created = _ts(b.created[i], b.created_s[i])
        rows.append((oid, b.bin[i], name, g, 8801000000000 + int(op[i]) * 10 ** 9 + int(num[i]),
                     nid, created, created, None))


def _containments(ctx, T):
    lay, rng, b = ctx.lay, ctx.rng, ctx.b
    conts = [c for c in ctx.conts if not getattr(c, "dropped", False)]
    # ids in survey order: by owner BIN, old (replaced) ones first; the orphan last
    def key(c):
        return (0 if not c.orphan else 1, int(b.bin_no[c.owner]), 0 if getattr(c, "older", False) else 1, c.offset)
    conts.sort(key=key)
    for k, c in enumerate(conts, start=1):
        c.id = "C%06d" % k
    rows = T["fsm.containments"].rows
    for c in conts:
        i = c.owner
        if c.far is not None:
            pt = geo.lonlat(lay, c.far)
        elif c.offset == 0 and b.shape[i] == "rect":
            pt = b.centroid_ll[i]
        else:
            # second containment: behind the centre (in front of it for the two-part
            # footprints, whose back part is small)
            off = -c.offset if b.shape[i] == "multi" else c.offset
            pt = geo.lonlat(lay, b.c[i] + pl.perp(b.u[i:i + 1])[0] * off * b.hd[i])
        created = _ts(b.created[i], b.created_s[i])
        updated = created
        deleted = None
        if c.deleted:
            dday = int(b.deleted_day[i]) if b.deleted[i] else int(b.created[i]) + 20 + int(rng.integers(0, 150))
            deleted = updated = _ts(dday, 40000)
            c.deleted_day = dday
        rows.append((
            c.id, c.type, c.location, c.size, c.pit_diameter, c.tank_length, c.tank_width, c.depth,
            c.septic_criteria, attributes.iso(c.construction), c.emptied,
            attributes.iso(c.last) if c.last else None, attributes.iso(c.next) if c.next else None, c.times,
            attributes.iso(c.surveyed), None, None, geo.wkt_point(pt), None, None, None, created, updated, deleted))
    # links
    links = [ln for ln in ctx.links if not getattr(ctx.conts[ln.c], "dropped", False)]
    links.sort(key=lambda ln: (ctx.conts[ln.c].id, int(b.bin_no[ln.b]), ln.dup))
    rows = T["building_info.build_contains"].rows
    for k, ln in enumerate(links, start=1):
        i = ln.b
        c = ctx.conts[ln.c]
        created = _ts(b.created[i], b.created_s[i])
        deleted = None
        if ln.deleted:
            if getattr(c, "deleted_day", None):
                dday = c.deleted_day
            elif b.deleted[i]:
                dday = b.deleted_day[i]
            else:
                dday = int(b.created[i]) + 10 + int(rng.integers(0, 150))
            deleted = _ts(dday, 40000)
        ln.id = k
        rows.append((k, b.bin[i], c.id, created, deleted or created, deleted))
    ctx.cont_rows = conts
    ctx.link_rows = links


def _toilets(ctx, T):
    lay, rng, b = ctx.lay, ctx.rng, ctx.b
    rows = T["fsm.toilets"].rows
    for k, t in enumerate(ctx.toilets, start=1):
        t.id = k
        if t.building is not None:
            i = t.building
            pt = b.centroid_ll[i]
            ward = int(b.ward[i])
            bin_ = b.bin[i]
            loc = b.locality[i]
            name = f"{loc} {t.type} {k}"
            road_d = int(round(b.road_d[i]))
        else:
            i = t.near
            pt = geo.lonlat(lay, b.c[i] - pl.perp(b.u[i:i + 1])[0] * (b.hd[i] + 1.0))
            ward = int(b.ward[i])
            bin_ = None
            loc = b.locality[i]
            name = f"{loc} Bazar Public Toilet (closed) {k}"
            road_d = 1
        seats = int(rng.integers(4, 13))
        male = seats // 2
        fee = t.type == "Public Toilet"
        created = ctx.base_ts
        deleted = _ts(int(b.surveyed.min()) + 100, 45000) if t.deleted else None
        rows.append((
            k, name, t.type, ward, loc, bin_, road_d, t.status, names.person(rng, "Male"), "Male",
            8801700000000 + int(rng.integers(1e8, 9e8)),
            "Municipality" if fee else "Community", f"{names.TOWN_NAME}" if fee else "Community Based Organisation",
            "Municipality" if fee else "Community", f"{loc} CBO", seats, int(rng.integers(0, 5)), True,
            male, seats - male, bool(rng.random() < 0.5), int(rng.integers(0, 2)), bool(rng.random() < 0.3),
            bool(rng.random() < 0.2), bool(rng.random() < 0.6), bool(rng.random() < 0.4), fee,
            float(rng.choice([2, 5])) if fee else None, "Per Use" if fee else None, geo.wkt_point(pt),
            created, deleted or created, deleted))
    rows = T["fsm.build_toilets"].rows
    tl = sorted(ctx.toilet_links, key=lambda x: (not x.deleted, int(b.bin_no[x.b])))
    for k, x in enumerate(tl, start=1):
        i = x.b
        created = _ts(b.created[i], b.created_s[i])
        deleted = None
        if x.deleted:
            deleted = _ts(int(b.deleted_day[i]) if b.deleted[i] else int(b.created[i]) - 1, 30000)
            if not b.deleted[i]:
                created = _ts(int(b.created[i]) - 200, 30000)
        x.id = k
        rows.append((k, b.bin[i], x.t.id, created, deleted or created, deleted))


def _lics(ctx, T, ids):
    b = ctx.b
    rows = T["layer_info.low_income_communities"].rows
    live = ~b.deleted
    for lic_id, r in zip(ids, ctx.lic_rows):
        m = (b.lic == lic_id) & live if not r["deleted"] else np.zeros(len(b.c), dtype=bool)
        n_ct = sum(1 for t in ctx.toilets if t.lic == lic_id and t.type == "Community Toilet")
        deleted = _ts(int(b.surveyed.min()) + 150, 46000) if r["deleted"] else None
        vals = [int(m.sum()), int(b.hh[m].sum()), int(b.pop[m].sum()), int(b.male[m].sum()), int(b.female[m].sum()),
                int(b.other[m].sum()), int((m & (b.ss == 3)).sum()), int((m & (b.ss == 4)).sum() // 2),
                int((m & (b.ss == 4)).sum() - (m & (b.ss == 4)).sum() // 2), int((m & (b.ss == 1)).sum()), n_ct]
        if r["deleted"]:
            vals = [None] * len(vals)
        rows.append((lic_id, r["name"], geo.wkt_multipolygon(r["polys"]), *vals, 2, ctx.base_ts,
                     deleted or ctx.base_ts, deleted))


def _places(ctx, T):
    lay, rng, b, net = ctx.lay, ctx.rng, ctx.b, ctx.net
    rows = T["layer_info.places"].rows
    pid = 0
    used = set()

    def add(name, xy, ward):
        nonlocal pid
        if name in used:
            return
        used.add(name)
        pid += 1
        rows.append((pid, name, int(ward), geo.wkt_point(geo.lonlat(lay, xy)), ctx.base_ts, ctx.base_ts, None))

    # markets at junctions of main roads, named after the road line
    r = net.roads
    n_market = max(4, lay.n // 2500)
    main = [i for i in range(len(r.code)) if r.rank[i] == 0 and not r.deleted[i]]
    for i in rng.permutation(main)[:n_market]:
        blk = [x for x in lay.edge_adj[r.edge[i]] if x >= 0 and lay.in_city[x]]
        add(f"{r.name[i].split()[0]} Bazar", r.a[i], lay.block_ward[blk[0]])
    # landmark buildings: schools, mosques, hospitals, offices
    for i in b.order:
        i = int(i)
        if b.deleted[i] or b.role[i] != "" or b.business[i] is None:
            continue
        if b.fu[i] in (3, 4, 12) and rng.random() < 0.6:
            add(b.business[i], b.c[i], b.ward[i])
    # parks and the plants' blocks
    for blk in np.nonzero(lay.block_kind == "open")[0]:
        add(f"{names.locality(rng)} {['Park', 'Eidgah', 'Playground', 'Graveyard'][int(rng.integers(4))]}",
            lay.block_centre[blk], lay.block_ward[blk])
    for k, blk in enumerate(lay.plant_blocks, start=1):
        add(T["fsm.treatment_plants"].rows[k - 1][1], lay.block_centre[blk], lay.block_ward[blk])


def _ward_counters(ctx, T):
    """Ward summary columns as IMIS's update commands compute them (DATABASE.md 6.2)."""
    lay, b, net = ctx.lay, ctx.b, ctx.net
    live = ~b.deleted & (b.shape != "null")
    geo_ward = np.where(np.isin(b.role, ["OUTSIDE_CITY"]), -1, b.ward_geo)
    live_c = [c for c in ctx.cont_rows if not c.deleted]
    c_ward = {}
    pts = np.array([c.far if c.far is not None else b.c[c.owner] for c in live_c]).reshape(-1, 2)
    for blk in footprints.locate_block(lay, pts):
        if blk >= 0 and lay.in_city[blk]:
            w = int(lay.block_ward[blk])
            c_ward[w] = c_ward.get(w, 0) + 1
    road_len = {}
    for i in range(len(net.roads.code)):
        if net.roads.deleted[i]:
            continue
        e = net.roads.edge[i]
        length = float(np.linalg.norm(net.roads.b[i] - net.roads.a[i]))
        for w in {int(lay.block_ward[x]) for x in lay.edge_adj[e] if x >= 0 and lay.in_city[x]}:
            road_len[w] = road_len.get(w, 0.0) + length
    for w in range(1, lay.n_wards + 1):
        m = live & (geo_ward == w)
        polys = ctx.ward_polys[w]
        T["layer_info.wards"].rows.append((
            w, geo.wkt_multipolygon(polys), round(geo.polys_area(polys) / 1e6, 3),
            round(road_len.get(w, 0.0) / 1000, 2), int(m.sum()), int(b.pop[m].sum()), int(b.hh[m].sum()),
            int((m & (b.structure == 4)).sum()), int((m & (b.structure == 3)).sum()), 0,
            int((m & (b.structure == 1)).sum()), int((m & (b.ss == 1)).sum()), int(c_ward.get(w, 0)),
            int((m & (b.ss == 3)).sum()), int((m & (b.ss == 4)).sum()), 0, None, None, None,
            ctx.base_ts, ctx.base_ts, None))


# ---------------------------------------------------------------------------------------
# manifest
# ---------------------------------------------------------------------------------------

def _manifest(ctx, T, seed):
    lay, b, net = ctx.lay, ctx.b, ctx.net
    k = footprints.n_planted(lay.n)
    d = {c: [] for c in ("INVALID_FOOTPRINT", "NULL_FOOTPRINT", "DUPLICATE_FOOTPRINT", "OVERLAP", "SLIVER",
                         "OUTSIDE_CITY", "WARD_MISMATCH", "AREA_MISMATCH", "CONTAINMENT_FAR",
                         "CONTAINMENT_UNLINKED", "MISSING_CONTAINMENT", "CODE_DELETED", "CODE_FAR")}
    for i in b.order:
        i = int(i)
        role = b.role[i]
        if role in ("INVALID_FOOTPRINT", "NULL_FOOTPRINT", "SLIVER", "OUTSIDE_CITY", "AREA_MISMATCH"):
            e = {"bin": b.bin[i]}
            if role == "AREA_MISMATCH":
                e["estimated_area"] = geo.round2(b.area[i] * b.area_factor[i])
                e["true_area"] = round(float(b.area[i]), 2)
            if role == "SLIVER":
                e["area"] = round(float(b.area[i]), 3)
            if role == "OUTSIDE_CITY":
                e["note"] = "no ward polygon contains it; ward attribute = the ward across its road"
            d[role].append(e)
        elif role in ("DUPLICATE_FOOTPRINT", "OVERLAP"):
            d[role].append({"bin": b.bin[i], "other_bin": b.bin[b.partner[i]],
                            "also": "OVERLAP" if role == "DUPLICATE_FOOTPRINT" else None})
        elif role == "WARD_MISMATCH":
            d[role].append({"bin": b.bin[i], "ward": int(b.ward[i]), "containing_ward": int(b.ward_geo[i])})
        elif role == "CONTAINMENT_FAR":
            c = ctx.conts[b.own[i][0]]
            d[role].append({"bin": b.bin[i], "containment_id": c.id})
        elif role == "MISSING_CONTAINMENT":
            d[role].append({"bin": b.bin[i], "sanitation_system_id": int(b.ss[i])})
        elif role == "CODE_FAR":
            d[role].append({"bin": b.bin[i], "field": "watersupply_pipe_code", "code": b.pipe_code[i],
                            "distance_m": round(b.far_pipe[i], 1)})
    for e in d["DUPLICATE_FOOTPRINT"]:
        if e["also"] is None:
            del e["also"]
    for e in d["OVERLAP"]:
        e.pop("also", None)
    for c in ctx.cont_rows:
        if c.orphan:
            d["CONTAINMENT_UNLINKED"].append({"containment_id": c.id, "bin": None, "note": "never linked"})
        elif getattr(c, "unlinked", False):
            d["CONTAINMENT_UNLINKED"].append({"containment_id": c.id, "bin": b.bin[c.owner],
                                              "note": "link soft-deleted; the building keeps another containment"})
    for i, fld, code in ctx.code_deleted:
        d["CODE_DELETED"].append({"bin": b.bin[i], "field": fld, "code": code})
    defect_bins = {}
    for code, items in d.items():
        for e in items:
            for key in ("bin", "other_bin"):
                if e.get(key):
                    defect_bins.setdefault(e[key], [])
                    if code not in defect_bins[e[key]]:
                        defect_bins[e[key]].append(code)
    # duplicates are also overlaps, both ways
    for e in d["DUPLICATE_FOOTPRINT"]:
        for key in ("bin", "other_bin"):
            defect_bins[e[key]] = sorted(set(defect_bins[e[key]]) | {"DUPLICATE_FOOTPRINT", "OVERLAP"})
    defect_containments = sorted(e["containment_id"] for code in ("CONTAINMENT_FAR", "CONTAINMENT_UNLINKED")
                                 for e in d[code])
    deleted = {
        "buildings": [b.bin[i] for i in b.order if b.deleted[int(i)]],
        "containments": [c.id for c in ctx.cont_rows if c.deleted],
        "build_contains": [ln.id for ln in ctx.link_rows if ln.deleted],
        "build_toilets": [x.id for x in ctx.toilet_links if x.deleted],
        "waterbodys": list(ctx.deleted_ponds),
        "roads": [c for c, dl in zip(net.roads.code, net.roads.deleted) if dl],
        "low_income_communities": [k for k, r in enumerate(ctx.lic_rows, start=1) if r["deleted"]],
        "drains": [c for c, lv in zip(net.drains.code, net.drains.live) if not lv],
        "sewers": [c for c, lv in zip(net.sewers.code, net.sewers.live) if not lv],
        "water_supplys": [c for c, lv in zip(net.pipes.code, net.pipes.live) if not lv],
        "toilets": [t.id for t in ctx.toilets if t.deleted],
    }
    keys = _keys(ctx, T)
    counts = {}
    for name, t in T.items():
        cols = t.columns
        live = len(t.rows) if "deleted_at" not in cols else sum(1 for r in t.rows if r[cols.index("deleted_at")] is None)
        counts[name] = {"rows": len(t.rows), "live": live}
    return {"seed": seed, "n_buildings": ctx.n, "town": names.TOWN_NAME, "planted_per_code": k,
            "defects": d, "defect_bins": dict(sorted(defect_bins.items())),
            "defect_containments": defect_containments, "deleted": deleted, "keys": keys, "counts": counts,
            "notes": NOTES}


def _keys(ctx, T):
    lay, b, net = ctx.lay, ctx.b, ctx.net
    live = ~b.deleted
    clean = live & (b.role == "")
    keys = {"city_id": 1, "river_ids": list(ctx.river_ids), "main_river_id": ctx.river_ids[0],
            "pond_ids_sample": ctx.pond_ids[:5], "deleted_pond_near_river_id": ctx.deleted_ponds[0],
            "wards": lay.n_wards}
    # a drain with live buildings near it (drain code of Drain Network buildings)
    cnt = {}
    for i in np.nonzero(clean & (b.ss == 2))[0]:
        cnt[b.drain_code[i]] = cnt.get(b.drain_code[i], 0) + 1
    code = max(sorted(cnt), key=lambda c: cnt[c])
    keys["drain_with_buildings"] = {"code": code, "drain_network_buildings": cnt[code]}
    cnt = {}
    for i in np.nonzero(clean & (b.ss == 1))[0]:
        cnt[b.sewer_code[i]] = cnt.get(b.sewer_code[i], 0) + 1
    code = max(sorted(cnt), key=lambda c: cnt[c])
    keys["sewer_with_buildings"] = {"code": code, "sewer_network_buildings": cnt[code]}
    cnt = {}
    for i in np.nonzero(live)[0]:
        rc = net.roads.code[b.road[i]]
        cnt[rc] = cnt.get(rc, 0) + 1
    code = max(sorted(cnt), key=lambda c: cnt[c])
    keys["road_with_most_buildings"] = {"code": code, "live_buildings": cnt[code]}
    cnt = np.bincount(b.ward[live], minlength=lay.n_wards + 1)
    keys["ward_with_most_buildings"] = {"ward": int(np.argmax(cnt)), "live_buildings": int(cnt.max())}
    keys["lic_id"] = 1
    keys["lic_live_buildings"] = int(((b.lic == 1) & live).sum())
    ct = [t for t in ctx.toilets if t.type == "Community Toilet" and t.status and not t.deleted]
    users = {}
    for x in ctx.toilet_links:
        if not x.deleted and not b.deleted[x.b]:
            users[x.t.id] = users.get(x.t.id, 0) + 1
    best = max(ct, key=lambda t: (users.get(t.id, 0), -t.id))
    keys["community_toilet"] = {"id": best.id, "live_users": users.get(best.id, 0)}
    keys["community_toilet_out_of_service_ids"] = [t.id for t in ctx.toilets if not t.status]
    shared = [i for i in np.nonzero(clean & (b.ss == 11) & (b.host >= 0))[0]]
    i = int(shared[0])
    keys["shared_containment"] = {"containment_id": ctx.conts[b.own[b.host[i]][0]].id,
                                  "bins": sorted([b.bin[b.host[i]], b.bin[i]])}
    two = [int(i) for i in b.order if clean[int(i)] and len(b.live_links.get(int(i), [])) == 2
           and b.ss[int(i)] in (3, 4)]
    keys["building_two_containments"] = {"bin": b.bin[two[0]],
                                         "containment_ids": sorted(ctx.conts[ln.c].id for ln in b.live_links[two[0]])}
    keys["multipart_bins"] = [b.bin[i] for i in b.order if b.role[int(i)] == "MULTIPART"]
    keys["null_structure_bins"] = [b.bin[i] for i in b.order if b.structure[int(i)] == 0]
    keys["null_sanitation_bins_sample"] = [b.bin[i] for i in b.order if b.ss[int(i)] == 0 and live[int(i)]][:5]
    keys["annex_sample"] = [{"bin": b.bin[i], "main_bin": b.bin[b.main_of[i]]}
                            for i in b.order if b.main_of[int(i)] >= 0][:3]
    dd = [int(i) for i in np.nonzero(b.role == "DELETED_DUPLICATE")[0]]
    keys["deleted_duplicate_of_live"] = [{"deleted_bin": b.bin[i], "live_bin": b.bin[b.partner[i]]} for i in dd]
    keys["replaced_containments"] = [{"bin": b.bin[i], "deleted_containment_id": ctx.conts[ci].id}
                                     for i, ci in ctx.replaced]
    keys["duplicate_link_bins"] = [b.bin[i] for i in ctx.dup_links]
    keys["municipal_water_source_id"] = attributes.MUNICIPAL
    keys["city_area_km2"] = round(ctx.city_area_km2, 3)
    return keys
