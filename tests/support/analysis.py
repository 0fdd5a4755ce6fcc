"""Helpers for the analysis tests: IMIS layers of the sample town, running an algorithm, and
independent PostGIS oracles written in plain SQL (they share no code with the plugin)."""
import psycopg2
from qgis.core import QgsDataSourceUri, QgsFeatureRequest, QgsProcessingFeedback, QgsVectorLayer

LIMIT_TOLERANCE = 0.01  # buildings within 1 cm of the distance are reported, not compared

TABLES = {
    "waterbodys": ("layer_info", "waterbodys", "id"),
    "buildings": ("building_info", "buildings", "bin"),
    "containments": ("fsm", "containments", "id"),
    "drains": ("utility_info", "drains", "code"),
    "sewers": ("utility_info", "sewers", "code"),
    "water_supplys": ("utility_info", "water_supplys", "code"),
    "wards": ("layer_info", "wards", "ward"),
}


def pg_layer(db, name, subset=""):
    """A PostGIS layer of the IMIS table `name` (no live filter unless `subset` says so)."""
    schema, table, key = TABLES[name]
    uri = QgsDataSourceUri(db.uri)
    uri.setDataSource(schema, table, "geom", subset, key)
    uri.setSrid("4326")
    layer = QgsVectorLayer(uri.uri(False), table, "postgres")
    assert layer.isValid(), f"cannot open {schema}.{table}"
    return layer


def gpkg_layer(path, name, subset=""):
    layer = QgsVectorLayer(f"{path}|layername={name}", name, "ogr")
    assert layer.isValid(), f"cannot open {name} in {path}"
    if subset:
        layer.setSubsetString(subset)
    return layer


class Feedback(QgsProcessingFeedback):
    """Keeps what the algorithm reported, for assertions."""

    def __init__(self):
        super().__init__()
        self.infos, self.errors = [], []

    def pushInfo(self, info):  # noqa: N802
        self.infos.append(info)

    def reportError(self, error, fatalError=False):  # noqa: N802
        self.errors.append(error)

    def text(self):
        return "\n".join(self.infos + self.errors)


def run(algorithm_id, params, feedback=None):
    import processing

    feedback = feedback or Feedback()
    defaults = {name: "TEMPORARY_OUTPUT" for name in ("OUTPUT", "OUTPUT_BUILDINGS", "OUTPUT_CONTAINMENTS",
                                                      "OUTPUT_ZONE", "OUTPUT_SUMMARY", "OUTPUT_CONTAINMENT_SUMMARY",
                                                      "OUTPUT_WARDS")}
    return processing.run(algorithm_id, {**defaults, **params}, feedback=feedback), feedback


def table_rows(layer):
    """Attribute rows of an output table, in feature order, NULL as None."""
    rows = []
    for feature in layer.getFeatures(QgsFeatureRequest().setFlags(QgsFeatureRequest.NoGeometry)):
        rows.append([None if (hasattr(v, "isNull") and v.isNull()) else v for v in feature.attributes()])
    return rows


def by_key(layer, key, value):
    """{feature[key]: feature[value]} of an output layer."""
    return {feature[key]: feature[value] for feature in layer.getFeatures()}


def query(dsn, sql, params=None):
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description else None
    finally:
        conn.close()


def execute(dsn, sql, params=None):
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params)
        conn.commit()
    finally:
        conn.close()


# --- oracles -------------------------------------------------------------------------------

_WATER = """
    SELECT id, geom FROM layer_info.waterbodys
    WHERE deleted_at IS NULL AND (%(types)s::text[] IS NULL OR lower(btrim(type)) = ANY(%(types)s::text[]))
      AND (%(ids)s::int[] IS NULL OR id = ANY(%(ids)s::int[]))
"""


def oracle_distances(dsn, distance, types=None, ids=None):
    """{BIN: geodesic metres} of live buildings within distance + 1 cm of the chosen live water
    bodies (PostGIS geography, the definition of the issue)."""
    rows = query(dsn, f"""
        WITH w AS ({_WATER})
        SELECT b.bin, min(ST_Distance(b.geom::geography, w.geom::geography))
        FROM building_info.buildings b JOIN w ON b.geom && ST_Expand(w.geom, 0.05)
        WHERE b.deleted_at IS NULL AND b.geom IS NOT NULL
          AND ST_DWithin(b.geom::geography, w.geom::geography, %(reach)s)
        GROUP BY b.bin""", {"types": types, "ids": ids, "reach": distance + LIMIT_TOLERANCE})
    return dict(rows)


def oracle_imis_bins(dsn, distance, types=None, ids=None):
    """BINs IMIS's buffer expression selects: ST_Buffer(ST_Union(geom)::geography, d)::geometry."""
    rows = query(dsn, f"""
        WITH w AS ({_WATER}), p AS (SELECT ST_Buffer(ST_Union(geom)::geography, %(d)s)::geometry AS g FROM w)
        SELECT b.bin FROM building_info.buildings b, p
        WHERE b.deleted_at IS NULL AND ST_Intersects(b.geom, p.g)""", {"types": types, "ids": ids, "d": distance})
    return {row[0] for row in rows}


def split_at_limit(oracle, distance):
    """(BINs surely within, BINs within 1 cm of the limit) of an oracle_distances() answer."""
    near = {b for b, d in oracle.items() if abs(d - distance) < LIMIT_TOLERANCE}
    inside = {b for b, d in oracle.items() if d <= distance and b not in near}
    return inside, near


def oracle_summary(dsn, bins):
    """The IMIS Buildings Sheet rows of a set of BINs, from plain SQL (labels from the tables)."""
    columns = ", ".join(f"count(*) FILTER (WHERE b.sanitation_system_id = {i})" for i in range(1, 11))
    rows = query(dsn, f"""
        SELECT COALESCE(st.type, ''), count(*), {columns}
        FROM building_info.buildings b
        JOIN building_info.sanitation_systems ss ON ss.id = b.sanitation_system_id AND ss.map_display
        LEFT JOIN building_info.structure_types st ON st.id = b.structure_type_id
        WHERE b.bin = ANY(%s)
        GROUP BY st.id, st.type ORDER BY st.id NULLS LAST""", (sorted(bins),))
    rows = [list(row) for row in rows]
    total = ["Total"] + [sum(row[i] for row in rows) for i in range(1, 12)]
    return rows + [total]


def oracle_containments(dsn, bins, distance, types=None, ids=None):
    """{containment id: type label} of the zone: live containments with a live link to a live
    building of `bins`, plus live containments without any live link whose point is within."""
    rows = query(dsn, f"""
        WITH w AS ({_WATER}),
        live_links AS (
            SELECT l.containment_id, l.bin FROM building_info.build_contains l
            JOIN building_info.buildings b ON b.bin = l.bin AND b.deleted_at IS NULL
            WHERE l.deleted_at IS NULL),
        chosen AS (
            SELECT c.id FROM fsm.containments c
            WHERE c.deleted_at IS NULL AND EXISTS (
                SELECT 1 FROM live_links l WHERE l.containment_id = c.id AND l.bin = ANY(%(bins)s))
            UNION
            SELECT c.id FROM fsm.containments c
            WHERE c.deleted_at IS NULL AND NOT EXISTS (SELECT 1 FROM live_links l WHERE l.containment_id = c.id)
              AND EXISTS (SELECT 1 FROM w WHERE c.geom && ST_Expand(w.geom, 0.05)
                          AND ST_DWithin(c.geom::geography, w.geom::geography, %(d)s)))
        SELECT x.id, ct.type FROM chosen x JOIN fsm.containments c ON c.id = x.id
        LEFT JOIN fsm.containment_types ct ON ct.id = c.type_id""",
                 {"types": types, "ids": ids, "d": distance, "bins": sorted(bins)})
    return dict(rows)


def containment_summary(labels_by_id, dsn):
    """Containments by Type rows from {id: label}, ordered by containment_types.id."""
    order = {label: key for key, label in query(dsn, "SELECT id, type FROM fsm.containment_types")}
    counts = {}
    for label in labels_by_id.values():
        counts[label or ""] = counts.get(label or "", 0) + 1
    rows = [[label, counts[label]] for label in sorted(counts, key=lambda l: (l == "", order.get(l, 0)))]
    return rows + [["Total", sum(counts.values())]]
