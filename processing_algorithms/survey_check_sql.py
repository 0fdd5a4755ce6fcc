"""The survey checks in PostGIS: one read-only transaction, bound parameters, GiST joins.

Every query reads live rows only (deleted_at IS NULL) and measures on the spheroid
(geometry::geography): square metres and metres, never degrees. Invalid footprints are
found first; the checks that need GEOS topology (overlaps, slivers, city, wards, areas)
leave them out, because GEOS cannot intersect them reliably. They are reported as
FOOTPRINT_INVALID and checked again once repaired.

`scope` (a list of BINs, or None for all) restricts building checks to those buildings and
containment checks to containments linked to them.
"""
from ..imis_plugin import db
from .survey_check_catalog import UNLINKED_IN_SCOPE_NOTE, CheckRun

LIVE_FOOTPRINT = "b.deleted_at IS NULL AND b.geom IS NOT NULL AND NOT ST_IsEmpty(b.geom)"
IN_SCOPE = "(%(scope)s::text[] IS NULL OR b.bin = ANY(%(scope)s::text[]))"
VALID = "NOT (b.bin = ANY(%(invalid)s::text[]))"
# A marker point for any footprint: inside it when it is valid, its first vertex otherwise
# (GEOS may fail on invalid input).
MARKER = (
    "CASE WHEN b.geom IS NULL OR ST_IsEmpty(b.geom) THEN NULL "
    "WHEN b.bin = ANY(%(invalid)s::text[]) THEN ST_GeometryN(ST_Points(b.geom), 1) "
    "ELSE ST_PointOnSurface(b.geom) END"
)

TABLES = {
    "buildings": "building_info.buildings",
    "build_contains": "building_info.build_contains",
    "sanitation_systems": "building_info.sanitation_systems",
    "containments": "fsm.containments",
    "containment_types": "fsm.containment_types",
    "wards": "layer_info.wards",
    "citypolys": "layer_info.citypolys",
    "drains": "utility_info.drains",
    "sewers": "utility_info.sewers",
    "water_supplys": "utility_info.water_supplys",
}
NEEDS = {
    "FOOTPRINT_OUTSIDE_CITY": ("citypolys",),
    "WARD_MISMATCH": ("wards",),
    "CONTAINMENT_FAR": ("containments", "build_contains"),
    "CONTAINMENT_UNLINKED": ("containments", "build_contains"),
    "CONTAINMENT_MISSING": ("containments", "build_contains", "containment_types",
                            "sanitation_systems"),
    "NETWORK_CODE_UNKNOWN": ("drains", "sewers", "water_supplys"),
    "NETWORK_CODE_DELETED": ("drains", "sewers", "water_supplys"),
    "NETWORK_CODE_FAR": ("drains", "sewers", "water_supplys"),
}

SQL_INVALID = f"""
SELECT b.bin, d.reason, ST_X(loc), ST_Y(loc), ST_AsBinary(loc), ST_AsBinary(ST_Force2D(b.geom))
FROM building_info.buildings b
CROSS JOIN LATERAL ST_IsValidDetail(b.geom) d
CROSS JOIN LATERAL (SELECT COALESCE(d.location, ST_GeometryN(ST_Points(b.geom), 1)) AS loc) l
WHERE {LIVE_FOOTPRINT} AND NOT ST_IsValid(b.geom)
ORDER BY b.bin
"""

SQL_MISSING = f"""
SELECT b.bin, b.geom IS NULL
FROM building_info.buildings b
WHERE b.deleted_at IS NULL AND {IN_SCOPE} AND (b.geom IS NULL OR ST_IsEmpty(b.geom))
ORDER BY b.bin
"""

SQL_NOT_MULTI = f"""
SELECT b.bin, GeometryType(b.geom), ST_NDims(b.geom), ST_SRID(b.geom), ST_AsBinary({MARKER})
FROM building_info.buildings b
WHERE {LIVE_FOOTPRINT} AND {IN_SCOPE}
  AND (GeometryType(b.geom) <> 'MULTIPOLYGON' OR ST_NDims(b.geom) <> 2 OR ST_SRID(b.geom) <> 4326)
ORDER BY b.bin
"""

# Pairs whose interiors share an area (ST_Relate '2********'): touching walls are not pairs.
# "(a.bin < b.bin) IS TRUE" keeps the planner off the BIN index: as an index condition it
# turns each GiST probe into a scan of half the table.
SQL_PAIRS = f"""
WITH pairs AS (
    SELECT a.bin AS bin_a, b.bin AS bin_b, a.geom AS ga, b.geom AS gb
    FROM building_info.buildings a
    JOIN building_info.buildings b ON a.geom && b.geom AND (a.bin < b.bin) IS TRUE
    WHERE a.deleted_at IS NULL AND {LIVE_FOOTPRINT} AND NOT ST_IsEmpty(a.geom)
      AND NOT (a.bin = ANY(%(invalid)s::text[])) AND {VALID}
      AND (%(scope)s::text[] IS NULL OR a.bin = ANY(%(scope)s::text[]) OR b.bin = ANY(%(scope)s::text[]))
      AND ST_Relate(a.geom, b.geom, '2********')
), measured AS (
    SELECT bin_a, bin_b, ST_Equals(ga, gb) AS same, i.geom AS ig,
           ST_Area(i.geom::geography) AS inter_area,
           least(ST_Area(ga::geography), ST_Area(gb::geography)) AS smaller
    FROM pairs
    CROSS JOIN LATERAL (SELECT ST_CollectionExtract(ST_Intersection(ga, gb), 3) AS geom) i
)
SELECT bin_a, bin_b, same, inter_area, inter_area / NULLIF(smaller, 0),
       ST_AsBinary(ST_PointOnSurface(ig)), ST_AsBinary(ST_Multi(ig))
FROM measured
WHERE same OR inter_area > %(overlap_share)s * smaller
ORDER BY bin_a, bin_b
"""

SQL_SLIVER = f"""
SELECT b.bin, p.path[1], ST_NumGeometries(b.geom), ST_Area(p.geom::geography),
       ST_AsBinary(ST_PointOnSurface(p.geom)), ST_AsBinary(ST_Multi(p.geom))
FROM building_info.buildings b
CROSS JOIN LATERAL ST_Dump(b.geom) p
WHERE {LIVE_FOOTPRINT} AND {IN_SCOPE} AND {VALID}
  AND (ST_NumGeometries(b.geom) > 1 OR ST_Area(b.geom::geography) < %(sliver_area)s)
  AND ST_Area(p.geom::geography) < %(sliver_area)s
ORDER BY b.bin, p.path[1]
"""

SQL_CITY_PRESENT = """
SELECT count(*) FROM layer_info.citypolys
WHERE deleted_at IS NULL AND geom IS NOT NULL AND NOT ST_IsEmpty(geom)
"""

# The city is a scalar subquery (computed once, shared with parallel workers) rather than a
# CTE, which would keep the per-building test in the leader process.
SQL_OUTSIDE_CITY = f"""
SELECT bin, area, ST_Area(ST_Intersection(geom, city)::geography), ST_AsBinary(ST_PointOnSurface(geom)),
       ST_AsBinary(ST_Multi(ST_CollectionExtract(ST_Difference(geom, city), 3)))
FROM (
    SELECT b.bin, b.geom, ST_Area(b.geom::geography) AS area, c.city
    FROM building_info.buildings b
    CROSS JOIN (SELECT (SELECT ST_Union(ST_MakeValid(geom)) FROM layer_info.citypolys
                        WHERE deleted_at IS NULL AND geom IS NOT NULL AND NOT ST_IsEmpty(geom)) AS city) c
    WHERE {LIVE_FOOTPRINT} AND {IN_SCOPE} AND {VALID} AND NOT ST_Covers(c.city, b.geom)
    OFFSET 0
) outside
ORDER BY bin
"""

SQL_WARDS_PRESENT = """
SELECT count(*) FROM layer_info.wards
WHERE deleted_at IS NULL AND geom IS NOT NULL AND NOT ST_IsEmpty(geom)
"""

# Wards drive the join (few rows, each polygon reused for a run of buildings), so PostGIS
# keeps each ward prepared instead of re-reading a large polygon for every building.
# MATERIALIZED: computed once, not once per parallel worker.
SQL_WARD = f"""
WITH located AS MATERIALIZED (
    SELECT b.bin, min(w.ward) AS geo_ward
    FROM layer_info.wards w
    JOIN building_info.buildings b ON b.geom && w.geom
    WHERE w.deleted_at IS NULL AND {LIVE_FOOTPRINT} AND {IN_SCOPE} AND {VALID}
      AND ST_Intersects(w.geom, ST_PointOnSurface(b.geom))
    GROUP BY b.bin
)
SELECT b.bin, b.ward, l.geo_ward, ST_AsBinary(ST_PointOnSurface(b.geom))
FROM building_info.buildings b
LEFT JOIN located l ON l.bin = b.bin
WHERE {LIVE_FOOTPRINT} AND {IN_SCOPE} AND {VALID} AND b.ward IS DISTINCT FROM l.geo_ward
ORDER BY b.bin
"""

SQL_AREA = f"""
SELECT b.bin, b.estimated_area::float8, a.area, ST_AsBinary(ST_PointOnSurface(b.geom))
FROM building_info.buildings b
CROSS JOIN LATERAL (SELECT ST_Area(b.geom::geography) AS area) a
WHERE {LIVE_FOOTPRINT} AND {IN_SCOPE} AND {VALID}
  AND (b.estimated_area IS NULL OR abs(b.estimated_area - a.area) > %(area_share)s * a.area)
ORDER BY b.bin
"""

# Containments in scope: all live ones, or those linked (live) to a building in scope.
CONTAINMENT_SCOPE = """
(%(scope)s::text[] IS NULL OR c.id IN (
    SELECT containment_id FROM building_info.build_contains
    WHERE deleted_at IS NULL AND bin = ANY(%(scope)s::text[])))
"""

SQL_CONTAINMENT_FAR = f"""
WITH links AS (
    SELECT DISTINCT l.containment_id, l.bin
    FROM building_info.build_contains l
    WHERE l.deleted_at IS NULL
), measured AS (
    SELECT c.id, c.geom, b.bin, ST_Distance(c.geom::geography, b.geom::geography) AS distance
    FROM fsm.containments c
    JOIN links k ON k.containment_id = c.id
    JOIN building_info.buildings b ON b.bin = k.bin
    WHERE c.deleted_at IS NULL AND c.geom IS NOT NULL AND NOT ST_IsEmpty(c.geom)
      AND {LIVE_FOOTPRINT} AND {CONTAINMENT_SCOPE}
)
SELECT id, string_agg(bin, ', ' ORDER BY bin), min(distance), ST_AsBinary(geom)
FROM measured
GROUP BY id, geom
HAVING min(distance) > %(containment_distance)s
ORDER BY id
"""

SQL_CONTAINMENT_UNLINKED = """
SELECT c.id, COALESCE(al.n, 0), ST_AsBinary(c.geom)
FROM fsm.containments c
LEFT JOIN (SELECT containment_id, count(*) AS n FROM building_info.build_contains
           GROUP BY containment_id) al ON al.containment_id = c.id
WHERE c.deleted_at IS NULL
  AND NOT EXISTS (
      SELECT 1 FROM building_info.build_contains l
      JOIN building_info.buildings b ON b.bin = l.bin AND b.deleted_at IS NULL
      WHERE l.containment_id = c.id AND l.deleted_at IS NULL)
ORDER BY c.id
"""

SQL_CONTAINMENT_MISSING = f"""
SELECT b.bin, b.sanitation_system_id, s.sanitation_system, ST_AsBinary({MARKER})
FROM building_info.buildings b
LEFT JOIN building_info.sanitation_systems s ON s.id = b.sanitation_system_id
WHERE b.deleted_at IS NULL AND {IN_SCOPE}
  AND b.sanitation_system_id IN (
      SELECT sanitation_system_id FROM fsm.containment_types WHERE sanitation_system_id IS NOT NULL)
  AND NOT EXISTS (
      SELECT 1 FROM building_info.build_contains l
      JOIN fsm.containments c ON c.id = l.containment_id AND c.deleted_at IS NULL
      WHERE l.bin = b.bin AND l.deleted_at IS NULL)
ORDER BY b.bin
"""


def _network_sql(column, table):
    # column/table come from the fixed tuple below, never from input. Each line is cast to
    # geography once (the CTE), not once per building that names it.
    return f"""(
WITH nets AS MATERIALIZED (
    SELECT code, deleted_at, geom::geography AS g FROM utility_info.{table}
)
SELECT b.bin, '{column}', b.{column}, n.code IS NULL, n.deleted_at IS NOT NULL,
       CASE WHEN n.code IS NOT NULL AND n.deleted_at IS NULL AND n.g IS NOT NULL
                 AND b.geom IS NOT NULL AND NOT ST_IsEmpty(b.geom)
            THEN ST_Distance(b.geom::geography, n.g) END,
       ST_AsBinary({MARKER})
FROM building_info.buildings b
LEFT JOIN nets n ON n.code = b.{column}
WHERE b.deleted_at IS NULL AND {IN_SCOPE} AND b.{column} IS NOT NULL
  AND (n.code IS NULL OR n.deleted_at IS NOT NULL
       OR NOT ST_DWithin(b.geom::geography, n.g, %(network_distance)s)))"""


NETWORKS = (("drain_code", "drains"), ("sewer_code", "sewers"), ("watersupply_pipe_code", "water_supplys"))
SQL_NETWORK = "\nUNION ALL\n".join(_network_sql(c, t) for c, t in NETWORKS) + "\nORDER BY 1, 2"


class PostgisChecks(CheckRun):
    """Runs the chosen checks on an open psycopg2 connection, in one read-only transaction."""

    def __init__(self, conn, thresholds, scope=None, feedback=None):
        super().__init__(thresholds, scope, feedback)
        self.conn = conn
        self.params = dict(thresholds)
        self.params["scope"] = sorted(scope) if scope is not None else None
        self.params["invalid"] = []
        self.cur = None
        self.present = set()

    def _rows(self, query):
        db.run_cancellable(self.cur, query, self.params, self.feedback)
        return self.cur.fetchall()

    def _begin(self):
        self.cur = self.conn.cursor()
        self.cur.execute("SET TRANSACTION READ ONLY")
        # JIT compiles each of these one-off queries for longer than it saves.
        self.cur.execute("SET LOCAL jit = off")
        self.cur.execute("SELECT t FROM unnest(%s::text[]) t WHERE to_regclass(t) IS NOT NULL",
                         (list(TABLES.values()),))
        found = {row[0] for row in self.cur.fetchall()}
        self.present = {key for key, name in TABLES.items() if name in found}

    def _end(self):
        if self.cur is not None:
            self.cur.close()
        self.conn.rollback()

    def _missing_tables(self, codes):
        return sorted({TABLES[t] for c in codes for t in NEEDS.get(c, ()) if t not in self.present})

    def _count(self, query):
        db.run_cancellable(self.cur, query, None, self.feedback)
        return self.cur.fetchone()[0]

    # --- steps -------------------------------------------------------------------------
    def _invalid(self, codes):
        # All invalid footprints, in scope or not: pair checks meet neighbours out of scope.
        rows = self._rows(SQL_INVALID)
        self.params["invalid"] = [row[0] for row in rows]
        self.mark_ran(codes)
        for bin_, reason, x, y, point, area in rows:
            self.report_invalid(bin_, reason, (x, y) if x is not None else None, point, area)

    def _missing(self, codes):
        self.mark_ran(codes)
        for bin_, is_null in self._rows(SQL_MISSING):
            self.report_missing(bin_, is_null)

    def _not_multi(self, codes):
        self.mark_ran(codes)
        for bin_, gtype, dims, srid, point in self._rows(SQL_NOT_MULTI):
            self.report_not_multi(bin_, f"{gtype.title()} with {dims} dimensions in SRID {srid}", point)

    def _pairs(self, codes):
        self.mark_ran(codes)
        for row in self._rows(SQL_PAIRS):
            self.report_pair(*row)

    def _sliver(self, codes):
        self.mark_ran(codes)
        for row in self._rows(SQL_SLIVER):
            self.report_sliver(*row)

    def _outside_city(self, codes):
        if not self._count(SQL_CITY_PRESENT):
            self.skip("FOOTPRINT_OUTSIDE_CITY", "skipped: layer_info.citypolys has no live city boundary")
            return
        self.mark_ran(codes)
        for row in self._rows(SQL_OUTSIDE_CITY):
            self.report_outside_city(*row)

    def _ward(self, codes):
        if not self._count(SQL_WARDS_PRESENT):
            self.skip("WARD_MISMATCH", "skipped: layer_info.wards has no live ward polygon")
            return
        self.mark_ran(codes)
        for row in self._rows(SQL_WARD):
            self.report_ward(*row)

    def _area(self, codes):
        self.mark_ran(codes)
        for row in self._rows(SQL_AREA):
            self.report_area(*row)

    def _containment_far(self, codes):
        self.mark_ran(codes)
        for row in self._rows(SQL_CONTAINMENT_FAR):
            self.report_containment_far(*row)

    def _containment_unlinked(self, codes):
        if self.scope is not None:
            self.skip("CONTAINMENT_UNLINKED", UNLINKED_IN_SCOPE_NOTE)
            return
        self.mark_ran(codes)
        for row in self._rows(SQL_CONTAINMENT_UNLINKED):
            self.report_unlinked(*row)

    def _containment_missing(self, codes):
        self.mark_ran(codes)
        for row in self._rows(SQL_CONTAINMENT_MISSING):
            self.report_containment_missing(*row)

    def _network(self, codes):
        self.mark_ran(codes)
        for row in self._rows(SQL_NETWORK):
            self.report_network(*row)
