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

    def boxes(self):
        """The pieces' boxes (metric CRS)."""
        return list(self._boxes)

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

    Columns: key, geom; box (the piece's box grown by the distance, in degrees); gm (the piece
    in the UTM zone of the sources); and the UTM scale factor near the piece as k + g * (lon -
    lon_c), exact to about 1e-8 within a few km (per pair it then costs two box reads instead
    of the whole series). Needs a CTE `metric` (metric_sql()).
    """
    from psycopg2 import sql

    lon = sql.SQL("((ST_XMin(p.geom) + ST_XMax(p.geom)) / 2)")
    lat = sql.SQL("((ST_YMin(p.geom) + ST_YMax(p.geom)) / 2)")
    east = sql.SQL("({} + 0.01)").format(lon)
    west = sql.SQL("({} - 0.01)").format(lon)
    k0 = UTM_K0
    return sql.SQL(
        # reach: the box's margin in longitude, the larger one: nothing within the distance is
        # farther than that in plain degrees (a cheap test before the projected distance).
        "SELECT q.*, ST_XMax(q.box) - ST_XMax(q.geom) AS reach FROM ("
        "SELECT s.key, p.geom, {box} AS box, ST_Transform(p.geom, m.srid) AS gm, {lon} AS lon_c, {k} AS k, "
        "({k_east} - {k_west}) / 0.02 AS g "
        "FROM {sources} s CROSS JOIN LATERAL ST_Subdivide(s.geom, {max_vertices}) AS p(geom) CROSS JOIN metric m) q"
    ).format(box=expand_sql(sql.SQL("p.geom"), distance_sql), lon=lon,
             k=tm_scale_sql(lon, lat, sql.SQL("m.lon0"), k0),
             k_east=tm_scale_sql(east, lat, sql.SQL("m.lon0"), k0), k_west=tm_scale_sql(west, lat, sql.SQL("m.lon0"), k0),
             sources=sql.Identifier(sources_name), max_vertices=sql.Literal(int(max_vertices)))


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
    """
    from psycopg2 import sql

    return sql.SQL(
        "SELECT DISTINCT ON (x.key) x.key AS target_key, x.source_key, x.distance FROM ("
        "SELECT t.key, p.key AS source_key, ST_Distance(ST_Transform(t.geom, m.srid), p.gm) "
        "/ (p.k + p.g * ((ST_XMin(t.geom) + ST_XMax(t.geom)) / 2 - p.lon_c)) AS distance "
        "FROM {pieces} p JOIN ({targets}) t ON t.geom && p.box AND ST_DWithin(t.geom, p.geom, p.reach) "
        "CROSS JOIN metric m "
        # OFFSET 0 keeps the subquery apart, so each distance is computed once, not again in WHERE.
        "OFFSET 0) x WHERE x.distance <= {d} ORDER BY x.key, x.distance, x.source_key"
    ).format(pieces=sql.Identifier(pieces_name), targets=targets_sql, d=distance_sql)
