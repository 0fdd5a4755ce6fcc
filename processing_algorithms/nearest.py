"""Nearest source feature within a distance, for each target (building, containment point).

Source features (water bodies, drains, pipes) can be large: a river polygon with thousands
of vertices. Both paths cut them into small pieces first (their union is the feature, so
distances stay exact) and index the pieces, so each target is measured only against the few
pieces around it.

QGIS path: SourceIndex (pieces in a LocalMetric, QgsSpatialIndex, GEOS distances in metres).
PostGIS path: pieces_sql() and nearest_sql() (ST_Subdivide, GiST prefilter, geography).
"""
from qgis.core import QgsGeometry, QgsRectangle, QgsSpatialIndex, QgsWkbTypes

from .metric import UTM_K0, expand_sql, tm_scale_sql

MAX_PIECE_VERTICES = 64
# Above the UTM scale factor anywhere a city-size area can reach from its zone's centre
# (1.001 at the zone's edge on the equator): a safe bound for dropping pairs early.
UTM_SCALE_MAX = 1.01


def cut(geometry, max_vertices=MAX_PIECE_VERTICES):
    """Parts of `geometry` with at most about `max_vertices` vertices each, covering it exactly."""
    if geometry.constGet().nCoordinates() <= max_vertices:
        return [geometry]
    pieces = geometry.subdivide(max_vertices)
    if pieces.isNull() or pieces.isEmpty():
        # Clipping can fail on an invalid polygon; measuring it whole is slower but exact.
        return [geometry]
    return [part for part in pieces.asGeometryCollection() if not part.isEmpty()] or [geometry]


class SourceIndex:
    """Source features in metres, cut into pieces, under a spatial index (QGIS path)."""

    def __init__(self, max_vertices=MAX_PIECE_VERTICES):
        self.max_vertices = max_vertices
        self._keys = []
        self._engines = []
        self._boxes = []
        self._index = QgsSpatialIndex()

    def __len__(self):
        return len(self._keys)

    def add(self, key, geometry):
        """Add source feature `key` with its geometry in the metric CRS."""
        for piece in cut(geometry, self.max_vertices):
            piece_id = len(self._keys)
            engine = QgsGeometry.createGeometryEngine(piece.constGet())
            engine.prepareGeometry()
            box = piece.boundingBox()
            self._keys.append(key)
            self._engines.append(engine)
            self._boxes.append(box)
            self._index.addFeature(piece_id, box)

    def nearest(self, geometry, max_distance, scale=1.0):
        """(key, metres) of the nearest source within `max_distance` of `geometry`, else None.

        `scale`: the metric's scale factor at the target (projected metres / true metres).
        Ties go to the smaller key, so both paths name the same source.
        """
        reach = max_distance * scale
        box = QgsRectangle(geometry.boundingBox())
        box.grow(reach)
        best = None
        target = geometry.constGet()
        for piece_id in self._index.intersects(box):
            distance = self._engines[piece_id].distance(target)
            if distance < 0 or distance > reach:
                continue
            candidate = (distance, self._keys[piece_id])
            if best is None or candidate < best:
                best = candidate
        return None if best is None else (best[1], best[0] / scale)

    def prefilter(self, metric, crs, max_distance):
        """A spatial index, in `crs`, of boxes that contain everything within the distance.

        Lets a reader skip targets far from every source before reprojecting them.
        """
        index = QgsSpatialIndex()
        grow = max_distance * 1.01 + 1.0
        for piece_id, box in enumerate(self._boxes):
            index.addFeature(piece_id, metric.rect_to(box, crs, grow))
        return index


def is_line_or_polygon(geometry):
    return geometry.type() in (QgsWkbTypes.LineGeometry, QgsWkbTypes.PolygonGeometry)


def pieces_sql(sources_name, distance_sql, max_vertices=MAX_PIECE_VERTICES):
    """SQL: the source rows (key, geom in EPSG:4326) of CTE `sources_name` cut into pieces.

    Columns: key, geom, box (the piece's box grown by the distance, in degrees) and gm (the
    piece in the UTM zone of the sources). Needs a CTE `metric` (metric_sql()).
    """
    from psycopg2 import sql

    # reach: the box's margin in longitude, the larger one: no point within the distance is
    # farther than that in plain degrees (a cheap GEOS test before the projected distance).
    return sql.SQL(
        "SELECT key, geom, box, gm, ST_XMax(box) - ST_XMax(geom) AS reach FROM ("
        "SELECT s.key, p.geom, {box} AS box, ST_Transform(p.geom, m.srid) AS gm "
        "FROM {sources} s CROSS JOIN LATERAL ST_Subdivide(s.geom, {max_vertices}) AS p(geom) CROSS JOIN metric m) q"
    ).format(box=expand_sql(sql.SQL("p.geom"), distance_sql), sources=sql.Identifier(sources_name),
             max_vertices=sql.Literal(int(max_vertices)))


def metric_sql(sources_name):
    """SQL for the CTE `metric`: the UTM zone (srid, lon0) of the sources' extent."""
    from psycopg2 import sql

    from .metric import utm_zone_sql

    return utm_zone_sql(sql.SQL("SELECT ST_Extent(geom)::geometry FROM {}").format(sql.Identifier(sources_name)))


def nearest_sql(pieces_name, targets_sql, distance_sql):
    """SQL: for each target within the distance of a piece, its nearest source and the metres.

    targets_sql: a SELECT returning `key` and `geom` (EPSG:4326) straight from a table (kept
    inlinable, so the GiST index on the table's geometry column serves the `&&` prefilter).
    Rows: target_key, source_key, distance; ties go to the smaller source key. Distances are
    UTM metres divided by the UTM scale factor at the centre of the target's box.

    The scale factor is the same for all pieces near one target, so the nearest piece is
    chosen on UTM metres and the (costly) factor is computed once per target; pairs beyond
    the reach in plain degrees, or beyond the distance times the largest factor, are dropped
    before that.
    """
    from psycopg2 import sql

    lon = sql.SQL("(ST_XMin(t.geom) + ST_XMax(t.geom)) / 2")
    lat = sql.SQL("(ST_YMin(t.geom) + ST_YMax(t.geom)) / 2")
    return sql.SQL(
        "SELECT y.key AS target_key, y.source_key, y.distance FROM ("
        "SELECT z.key, z.source_key, z.u / {scale} AS distance FROM ("
        "SELECT DISTINCT ON (x.key) x.key, x.source_key, x.u, x.lon, x.lat FROM ("
        "SELECT t.key, p.key AS source_key, ST_Distance(ST_Transform(t.geom, m.srid), p.gm) AS u, "
        "{lon} AS lon, {lat} AS lat "
        "FROM {pieces} p JOIN ({targets}) t ON t.geom && p.box AND ST_DWithin(t.geom, p.geom, p.reach) "
        "CROSS JOIN metric m "
        # OFFSET 0 keeps the subqueries apart, so each value is computed once, not again in WHERE.
        "OFFSET 0) x WHERE x.u <= {d} * {k_max} ORDER BY x.key, x.u, x.source_key) z CROSS JOIN metric m "
        "OFFSET 0) y WHERE y.distance <= {d}"
    ).format(scale=tm_scale_sql(sql.SQL("z.lon"), sql.SQL("z.lat"), sql.SQL("m.lon0"), UTM_K0),
             lon=lon, lat=lat, pieces=sql.Identifier(pieces_name), targets=targets_sql, d=distance_sql,
             k_max=sql.Literal(UTM_SCALE_MAX))
