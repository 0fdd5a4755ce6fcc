"""Nearest source feature within a distance, for each target (building, containment point).

Source features (water bodies, drains, pipes) can be large: a river polygon with thousands
of vertices. Both paths cut them into small pieces first (their union is the feature, so
distances stay exact) and index the pieces, so each target is measured only against the few
pieces around it.

QGIS path: SourceIndex (pieces in a LocalMetric, QgsSpatialIndex, GEOS distances in metres).
PostGIS path: pieces_sql() and nearest_sql() (ST_Subdivide, GiST prefilter, geography).
"""
from qgis.core import QgsGeometry, QgsRectangle, QgsSpatialIndex, QgsWkbTypes

from .metric import expand_sql

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

    def nearest(self, geometry, max_distance):
        """(key, metres) of the nearest source within `max_distance` of `geometry`, else None.

        Ties go to the smaller key, so both paths name the same source.
        """
        box = QgsRectangle(geometry.boundingBox())
        box.grow(max_distance)
        best = None
        target = geometry.constGet()
        for piece_id in self._index.intersects(box):
            distance = self._engines[piece_id].distance(target)
            if distance < 0 or distance > max_distance:
                continue
            candidate = (distance, self._keys[piece_id])
            if best is None or candidate < best:
                best = candidate
        return None if best is None else (best[1], best[0])

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


def pieces_sql(sources_sql, distance_sql, max_vertices=MAX_PIECE_VERTICES):
    """SQL: source rows (key, geom) cut into pieces, each with its geography and grown box.

    sources_sql: a SELECT returning `key` and `geom` (EPSG:4326).
    """
    from psycopg2 import sql

    return sql.SQL(
        "SELECT s.key, p.geom, p.geom::geography AS geog, {box} AS box "
        "FROM ({sources}) s CROSS JOIN LATERAL ST_Subdivide(s.geom, {max_vertices}) AS p(geom)"
    ).format(box=expand_sql(sql.SQL("p.geom"), distance_sql), sources=sources_sql,
             max_vertices=sql.Literal(int(max_vertices)))


def nearest_sql(pieces_name, targets_sql, distance_sql):
    """SQL: for each target within the distance of a piece, its nearest source and the metres.

    targets_sql: a SELECT returning `key` and `geom` straight from a table (kept inlinable,
    so the GiST index on the table's geometry column serves the `&&` prefilter).
    Rows: target_key, source_key, distance; ties go to the smaller source key.
    """
    from psycopg2 import sql

    return sql.SQL(
        "SELECT DISTINCT ON (t.key) t.key AS target_key, p.key AS source_key, "
        "ST_Distance(t.geom::geography, p.geog) AS distance "
        "FROM {pieces} p JOIN ({targets}) t ON t.geom && p.box "
        "WHERE ST_DWithin(t.geom::geography, p.geog, {d}) "
        "ORDER BY t.key, distance, p.key"
    ).format(pieces=sql.Identifier(pieces_name), targets=targets_sql, d=distance_sql)
