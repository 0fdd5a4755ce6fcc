"""The sample town: PostGIS and GeoPackage hold the same data; planted defects are real.

Fixtures (tests/conftest.py): ``sample_db`` is PostGIS loaded with
write_postgis(generate(3000, seed=7)) and carries the town's ``manifest``;
``sample_gpkg`` is the GeoPackage of the same town. The GeoPackage is read with sqlite3
(attributes) and osgeo.ogr (geometries); every oracle below is plain SQL.
"""
import hashlib
import sqlite3

import pytest
from psycopg2 import sql

from sampledata.lookups import LOOKUPS
from sampledata.tables import GEOMETRY_KINDS, KEYS, LOOKUP_KINDS, TABLES

ALL_TABLES = {**{name: [(c, LOOKUP_KINDS[name][c]) for c in spec["columns"]] for name, spec in LOOKUPS.items()},
              **TABLES}
ALL_KEYS = {**{name: "id" for name in LOOKUPS}, **KEYS}


def _bare(name):
    return name.split(".", 1)[1]


def _norm(value, kind):
    """One text form for a value read from PostGIS (psycopg2) or from the GeoPackage (sqlite3)."""
    if value is None:
        return None
    if kind == "bool":
        return bool(value)
    if kind in ("int", "bigint"):
        return int(value)
    if kind in ("numeric", "float"):
        return round(float(value), 6)
    if kind == "date":
        return str(value)[:10]
    if kind == "timestamp":
        return str(value).replace("T", " ")[:19]
    return str(value)


def _attribute_columns(name):
    return [(c, k) for c, k in ALL_TABLES[name] if k not in GEOMETRY_KINDS]


def _pg_rows(sample_db, name):
    cols = _attribute_columns(name)
    schema, table = name.split(".", 1)
    q = sql.SQL("SELECT {} FROM {}").format(sql.SQL(", ").join(sql.Identifier(c) for c, _ in cols),
                                            sql.Identifier(schema, table))
    conn = sample_db.connect()
    try:
        with conn.cursor() as cur:
            cur.execute(q)
            rows = cur.fetchall()
    finally:
        conn.close()
    return [tuple(_norm(v, k) for v, (_, k) in zip(r, cols)) for r in rows]


def _gpkg_rows(path, name):
    cols = _attribute_columns(name)
    con = sqlite3.connect(str(path))
    try:
        q = "SELECT {} FROM \"{}\"".format(", ".join(f'"{c}"' for c, _ in cols), _bare(name))
        rows = con.execute(q).fetchall()
    finally:
        con.close()
    return [tuple(_norm(v, k) for v, (_, k) in zip(r, cols)) for r in rows]


def _run(sample_db, query, params=None):
    """Rows of a psycopg2.sql query (identifiers composed, values bound)."""
    conn = sample_db.connect()
    try:
        with conn.cursor() as cur:
            cur.execute(query, params)
            return cur.fetchall()
    finally:
        conn.close()


def _npoints(g):
    """Number of points of an OGR geometry, counted as ST_NPoints does."""
    if g.GetGeometryCount():
        return sum(_npoints(g.GetGeometryRef(i)) for i in range(g.GetGeometryCount()))
    return g.GetPointCount()


def _checksum(rows):
    h = hashlib.sha256()
    for r in sorted(rows, key=repr):
        h.update(repr(r).encode())
    return h.hexdigest()


@pytest.fixture(scope="module")
def gpkg_layers(sample_gpkg):
    con = sqlite3.connect(str(sample_gpkg))
    try:
        return {r[0]: r[1] for r in con.execute("SELECT table_name, data_type FROM gpkg_contents")}
    finally:
        con.close()


def test_gpkg_has_one_layer_per_table(gpkg_layers):
    assert set(gpkg_layers) == {_bare(n) for n in ALL_TABLES}
    for name, cols in ALL_TABLES.items():
        spatial = any(k in GEOMETRY_KINDS for _, k in cols)
        assert gpkg_layers[_bare(name)] == ("features" if spatial else "attributes"), name


@pytest.mark.parametrize("name", list(ALL_TABLES))
def test_same_rows_keys_and_values(sample_db, sample_gpkg, name):
    pg = _pg_rows(sample_db, name)
    gp = _gpkg_rows(sample_gpkg, name)
    assert len(pg) == len(gp), f"{name}: {len(pg)} rows in PostGIS, {len(gp)} in the GeoPackage"
    key = [c for c, _ in _attribute_columns(name)].index(ALL_KEYS[name])
    pg_keys = [r[key] for r in pg]
    assert len(set(pg_keys)) == len(pg_keys)
    assert set(pg_keys) == {r[key] for r in gp}
    if name in sample_db.manifest["counts"]:
        assert len(pg) == sample_db.manifest["counts"][name]["rows"]
    # every attribute column, value by value (numbers to 1e-6)
    assert _checksum(pg) == _checksum(gp), f"{name}: attribute values differ"


@pytest.mark.parametrize("name", [n for n, cols in TABLES.items() if any(k in GEOMETRY_KINDS for _, k in cols)])
def test_same_geometries(sample_db, sample_gpkg, name):
    from osgeo import ogr

    key = KEYS[name]
    schema, table = name.split(".", 1)
    q = sql.SQL("SELECT {k}::text, ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom), ST_NPoints(geom), "
                "GeometryType(geom), ST_SRID(geom) FROM {t}").format(k=sql.Identifier(key), t=sql.Identifier(schema, table))
    pg = {}
    for k, x0, y0, x1, y1, npts, gtype, srid in _run(sample_db, q):
        pg[k] = None if npts is None else (round(x0, 9), round(y0, 9), round(x1, 9), round(y1, 9), npts, gtype)
        if npts is not None:
            assert srid == 4326
    ds = ogr.Open(str(sample_gpkg))
    layer = ds.GetLayerByName(table)
    assert layer.GetGeometryColumn() == "geom"
    assert layer.GetSpatialRef().GetAuthorityCode(None) == "4326"
    gp = {}
    for f in layer:
        g = f.GetGeometryRef()
        if g is None:
            gp[str(f.GetField(key))] = None
            continue
        x0, x1, y0, y1 = g.GetEnvelope()
        gp[str(f.GetField(key))] = (round(x0, 9), round(y0, 9), round(x1, 9), round(y1, 9), _npoints(g),
                                    ogr.GeometryTypeToName(g.GetGeometryType()).upper().replace(" ", ""))
    assert set(pg) == set(gp)
    assert pg == gp


def test_lookup_overrides_in_both(sample_db, sample_gpkg):
    pg = dict(sample_db.query("SELECT id, type FROM building_info.structure_types"))
    con = sqlite3.connect(str(sample_gpkg))
    gp = dict(con.execute("SELECT id, type FROM structure_types").fetchall())
    con.close()
    assert pg == gp == {1: "Pucca", 2: "Semi-pucca", 3: "Katcha", 4: "Tin-shed"}


# ---------------------------------------------------------------------------------------
# planted survey defects: each check finds exactly the manifest's cases
# ---------------------------------------------------------------------------------------

DEFECT_SQL = {
    "INVALID_FOOTPRINT": """SELECT bin FROM building_info.buildings
        WHERE deleted_at IS NULL AND geom IS NOT NULL AND NOT ST_IsValid(geom)""",
    "NULL_FOOTPRINT": "SELECT bin FROM building_info.buildings WHERE deleted_at IS NULL AND geom IS NULL",
    "DUPLICATE_FOOTPRINT": """SELECT a.bin FROM building_info.buildings a JOIN building_info.buildings o
        ON a.bin <> o.bin AND a.geom && o.geom AND ST_Equals(a.geom, o.geom)
        WHERE a.deleted_at IS NULL AND o.deleted_at IS NULL""",
    "OVERLAP": """SELECT a.bin FROM building_info.buildings a JOIN building_info.buildings o
        ON a.bin <> o.bin AND a.geom && o.geom AND ST_IsValid(a.geom) AND ST_IsValid(o.geom)
           AND ST_Intersects(a.geom, o.geom)
        WHERE a.deleted_at IS NULL AND o.deleted_at IS NULL
          AND ST_Area(ST_Intersection(a.geom, o.geom)::geography)
              > 0.5 * least(ST_Area(a.geom::geography), ST_Area(o.geom::geography))""",
    "SLIVER": "SELECT bin FROM building_info.buildings WHERE deleted_at IS NULL AND ST_Area(geom::geography) < 1",
    "OUTSIDE_CITY": """SELECT b.bin FROM building_info.buildings b, layer_info.citypolys c
        WHERE c.id = 1 AND b.deleted_at IS NULL AND b.geom IS NOT NULL AND NOT ST_Within(b.geom, c.geom)""",
    "WARD_MISMATCH": """SELECT b.bin FROM building_info.buildings b
        JOIN layer_info.wards w ON ST_Contains(w.geom, ST_Centroid(b.geom))
        WHERE b.deleted_at IS NULL AND w.deleted_at IS NULL AND w.ward <> b.ward""",
    "AREA_MISMATCH": """SELECT bin FROM building_info.buildings WHERE deleted_at IS NULL AND geom IS NOT NULL
        AND abs(estimated_area - ST_Area(geom::geography)) > 0.2 * ST_Area(geom::geography)""",
    "CONTAINMENT_FAR": """SELECT c.id FROM fsm.containments c
        JOIN building_info.build_contains bc ON bc.containment_id = c.id
        JOIN building_info.buildings b ON b.bin = bc.bin
        WHERE c.deleted_at IS NULL AND bc.deleted_at IS NULL AND b.deleted_at IS NULL
          AND ST_Distance(c.geom::geography, b.geom::geography) > 100""",
    "CONTAINMENT_UNLINKED": """SELECT c.id FROM fsm.containments c WHERE c.deleted_at IS NULL AND NOT EXISTS (
        SELECT 1 FROM building_info.build_contains bc JOIN building_info.buildings b ON b.bin = bc.bin
        WHERE bc.containment_id = c.id AND bc.deleted_at IS NULL AND b.deleted_at IS NULL)""",
    "MISSING_CONTAINMENT": """SELECT b.bin FROM building_info.buildings b
        WHERE b.deleted_at IS NULL AND b.sanitation_system_id IN (3, 4) AND NOT EXISTS (
            SELECT 1 FROM building_info.build_contains bc JOIN fsm.containments c ON c.id = bc.containment_id
            WHERE bc.bin = b.bin AND bc.deleted_at IS NULL AND c.deleted_at IS NULL)""",
    "CODE_DELETED": """SELECT b.bin FROM building_info.buildings b WHERE b.deleted_at IS NULL AND (
           EXISTS (SELECT 1 FROM utility_info.drains d WHERE d.code = b.drain_code AND d.deleted_at IS NOT NULL)
        OR EXISTS (SELECT 1 FROM utility_info.sewers s WHERE s.code = b.sewer_code AND s.deleted_at IS NOT NULL)
        OR EXISTS (SELECT 1 FROM utility_info.water_supplys w
                   WHERE w.code = b.watersupply_pipe_code AND w.deleted_at IS NOT NULL))""",
    "CODE_FAR": """SELECT b.bin FROM building_info.buildings b
        JOIN utility_info.water_supplys w ON w.code = b.watersupply_pipe_code
        WHERE b.deleted_at IS NULL AND w.deleted_at IS NULL
          AND ST_Distance(b.geom::geography, w.geom::geography) > 200""",
}


def _expected(manifest, code):
    d = manifest["defects"]
    if code in ("CONTAINMENT_FAR", "CONTAINMENT_UNLINKED"):
        return {e["containment_id"] for e in d[code]}
    if code == "DUPLICATE_FOOTPRINT":
        return {e[k] for e in d[code] for k in ("bin", "other_bin")}
    if code == "OVERLAP":   # identical footprints overlap too
        return {e[k] for c in ("OVERLAP", "DUPLICATE_FOOTPRINT") for e in d[c] for k in ("bin", "other_bin")}
    return {e["bin"] for e in d[code]}


@pytest.mark.parametrize("code", list(DEFECT_SQL))
def test_planted_defect_found_and_nothing_else(sample_db, code):
    manifest = sample_db.manifest
    assert len(manifest["defects"][code]) >= 2, f"too few {code} cases planted"
    found = {r[0] for r in sample_db.query(DEFECT_SQL[code])}
    expected = _expected(manifest, code)
    assert expected <= found, f"{code}: planted but not found: {sorted(expected - found)}"
    assert found <= expected, f"{code}: found but not planted: {sorted(found - expected)}"


def test_code_deleted_covers_each_field(sample_db):
    fields = {e["field"] for e in sample_db.manifest["defects"]["CODE_DELETED"]}
    assert fields == {"drain_code", "sewer_code", "watersupply_pipe_code"}
    for e in sample_db.manifest["defects"]["CODE_DELETED"]:
        table = {"drain_code": "drains", "sewer_code": "sewers", "watersupply_pipe_code": "water_supplys"}[e["field"]]
        q = sql.SQL("SELECT b.{f} = t.code AND t.deleted_at IS NOT NULL FROM building_info.buildings b, "
                    "utility_info.{t} t WHERE b.bin = %s AND t.code = %s").format(
            f=sql.Identifier(e["field"]), t=sql.Identifier(table))
        assert _run(sample_db, q, (e["bin"], e["code"])) == [(True,)]


def test_estimated_area_is_geodesic_area(sample_db):
    planted = {e["bin"] for e in sample_db.manifest["defects"]["AREA_MISMATCH"]}
    off = {r[0] for r in sample_db.query(
        """SELECT bin FROM building_info.buildings WHERE geom IS NOT NULL
           AND estimated_area <> round(ST_Area(geom::geography)::numeric, 2)""")}
    assert off == planted


def test_soft_deleted_rows_of_each_kind(sample_db):
    deleted = sample_db.manifest["deleted"]
    tables = {"buildings": ("building_info", "buildings", "bin"), "containments": ("fsm", "containments", "id"),
              "build_contains": ("building_info", "build_contains", "id"),
              "waterbodys": ("layer_info", "waterbodys", "id"), "roads": ("utility_info", "roads", "code"),
              "low_income_communities": ("layer_info", "low_income_communities", "id")}
    for kind, (schema, table, key) in tables.items():
        assert deleted[kind], f"no soft-deleted {kind}"
        q = sql.SQL("SELECT {k} FROM {t} WHERE deleted_at IS NOT NULL").format(
            k=sql.Identifier(key), t=sql.Identifier(schema, table))
        got = {r[0] for r in _run(sample_db, q)}
        assert got == set(deleted[kind]), kind
    # the soft-deleted pond lies within 100 m of a live river
    pond = sample_db.manifest["keys"]["deleted_pond_near_river_id"]
    assert sample_db.query(
        """SELECT bool_or(ST_DWithin(p.geom::geography, r.geom::geography, 100)) FROM layer_info.waterbodys p,
           layer_info.waterbodys r WHERE p.id = %s AND p.type = 'Pond' AND r.type = 'River'
           AND r.deleted_at IS NULL""", (pond,)) == [(True,)]


def test_town_character(sample_db):
    """Rivers, ponds, networks, several wards, community toilets, LICs, shared containments."""
    q = sample_db.query
    assert q("SELECT count(*) FROM layer_info.citypolys") == [(1,)]
    assert q("SELECT count(*) >= 4 FROM layer_info.wards") == [(True,)]
    assert q("SELECT count(*) > 0 FROM layer_info.waterbodys WHERE type = 'River' AND deleted_at IS NULL") == [(True,)]
    assert q("SELECT count(*) > 10 FROM layer_info.waterbodys WHERE type = 'Pond' AND deleted_at IS NULL") == [(True,)]
    for t in ("roads", "drains", "sewers", "water_supplys"):
        assert q(f"SELECT count(*) > 0 FROM utility_info.{t} WHERE deleted_at IS NULL") == [(True,)], t
    assert q("SELECT count(*) > 0 FROM fsm.toilets WHERE type = 'Community Toilet' AND status") == [(True,)]
    assert q("SELECT count(*) > 0 FROM layer_info.landuses WHERE class = 'Builtup'") == [(True,)]
    assert q("""SELECT count(*) > 0 FROM (SELECT containment_id FROM building_info.build_contains
                WHERE deleted_at IS NULL GROUP BY containment_id HAVING count(DISTINCT bin) > 1) s""") == [(True,)]
    assert q("SELECT count(*) FROM building_info.buildings WHERE ward IS NULL OR road_code IS NULL") == [(0,)]
    assert q("""SELECT count(*) FROM building_info.buildings
                WHERE population_served <> male_population + female_population + other_population""") == [(0,)]
