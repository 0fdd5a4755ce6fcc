"""Nearest source within a distance for a whole city of targets, in PostGIS: local frames.

A town's buildings against its line networks (pipes, drains, sewers) make half a million
building/piece pairs within reach of the GiST prefilter. nearest.nearest_sql projects the
target of every pair (ST_Transform), which then costs seconds. Here every source piece carries
its own local metric frame instead: metres per degree of longitude and latitude at the piece's
latitude on the WGS84 ellipsoid (frame_scales: prime-vertical radius N cos(lat) and meridian
radius M). The pieces are scaled once; per pair only the small target footprint is scaled
(ST_Scale: no PROJ) and measured in the plane. Same output as nearest.nearest_sql.

Accuracy: the frame is exact at the piece's latitude; a point dlat away sees the east-west
scale off by about tan(lat) * dlat (the north-south scale by far less). Pieces are cut to at
most PIECE_SEGMENTS segments of at most SEGMENT_DEGREES, so every point of a pair lies within
half a piece (about 110 m) plus the distance of the frame's latitude: at 50 m and latitudes up
to 30 degrees a distance is off by less than 1 mm, like the transverse Mercator of the other
path (tests/qgis/test_water_supply_coverage.py compares both with PostGIS geography).
"""
import math

from .metric import expand_sql

WGS84_A = 6378137.0
WGS84_E2 = 0.00669437999014132
SEGMENT_DEGREES = 0.0005  # at most about 55 m
PIECE_SEGMENTS = 4  # ST_Subdivide keeps at most 5 vertices


def frame_scales(latitude):
    """(metres per degree of longitude, metres per degree of latitude) at `latitude` (WGS84)."""
    phi = math.radians(latitude)
    w = 1.0 - WGS84_E2 * math.sin(phi) ** 2
    return (math.radians(1.0) * WGS84_A * math.cos(phi) / math.sqrt(w),
            math.radians(1.0) * WGS84_A * (1.0 - WGS84_E2) / w ** 1.5)


def frame_scales_sql(latitude_sql):
    """SQL of frame_scales(): (x scale, y scale) expressions for a latitude expression."""
    from psycopg2 import sql

    w = sql.SQL("(1 - {e2} * sin(radians({lat})) ^ 2)").format(e2=sql.Literal(WGS84_E2), lat=latitude_sql)
    k = sql.Literal(math.radians(1.0) * WGS84_A)
    return (sql.SQL("({k} * cos(radians({lat})) / sqrt({w}))").format(k=k, lat=latitude_sql, w=w),
            sql.SQL("({k} * {f} / {w} ^ 1.5)").format(k=k, f=sql.Literal(1.0 - WGS84_E2), w=w))


def centre_latitude_sql(geometry_sql):
    from psycopg2 import sql

    return sql.SQL("((ST_YMin({g}) + ST_YMax({g})) / 2)").format(g=geometry_sql)


def local_distance_sql(a_sql, b_sql, latitude_sql):
    """SQL: metres between two EPSG:4326 geometries in the local frame at `latitude`."""
    from psycopg2 import sql

    sx, sy = frame_scales_sql(latitude_sql)
    return sql.SQL("ST_Distance(ST_Scale({a}, {sx}, {sy}), ST_Scale({b}, {sx}, {sy}))").format(
        a=a_sql, b=b_sql, sx=sx, sy=sy)


def pieces_sql(sources_name, distance_sql):
    """SQL: the rows (key, geom in EPSG:4326) of CTE `sources_name` cut into small pieces.

    Columns: key, box (the piece's box grown by the distance, degrees), sx, sy (its frame) and
    sg (the piece in its frame, metres).
    """
    from psycopg2 import sql

    sx, sy = frame_scales_sql(centre_latitude_sql(sql.SQL("p.geom")))
    return sql.SQL(
        "SELECT key, box, sx, sy, ST_Scale(geom, sx, sy) AS sg FROM ("
        "SELECT s.key, p.geom, {box} AS box, {sx} AS sx, {sy} AS sy "
        "FROM {sources} s CROSS JOIN LATERAL ST_Subdivide(ST_Segmentize(s.geom, {seg}), {vertices}) AS p(geom) "
        # OFFSET 0: the frame is computed once per piece, not again for each use.
        "OFFSET 0) f"
    ).format(box=expand_sql(sql.SQL("p.geom"), distance_sql), sx=sx, sy=sy, sources=sql.Identifier(sources_name),
             seg=sql.Literal(SEGMENT_DEGREES), vertices=sql.Literal(PIECE_SEGMENTS + 1))


def nearest_sql(pieces_name, targets_sql, distance_sql):
    """SQL: for each target within the distance of a piece, its nearest source and the metres.

    targets_sql: a SELECT returning `key` and `geom` (EPSG:4326) straight from a table (kept
    inlinable, so the GiST index on its geometry column serves the `&&` prefilter).
    Rows: target_key, source_key (both as text), distance; ties go to the smaller source key
    (byte order).
    """
    from psycopg2 import sql

    return sql.SQL(
        "SELECT DISTINCT ON (x.key) x.key AS target_key, x.source_key, x.distance FROM ("
        # Keys as text in byte order ("C"): a cheap sort, and the same tie order as Python's.
        'SELECT t.key::text COLLATE "C" AS key, p.key::text COLLATE "C" AS source_key, '
        "ST_Distance(ST_Scale(t.geom, p.sx, p.sy), p.sg) AS distance "
        "FROM {pieces} p JOIN ({targets}) t ON t.geom && p.box "
        # OFFSET 0 keeps the subquery apart, so each distance is computed once, not again in WHERE.
        "OFFSET 0) x WHERE x.distance <= {d} ORDER BY x.key, x.distance, x.source_key"
    ).format(pieces=sql.Identifier(pieces_name), targets=targets_sql, d=distance_sql)
