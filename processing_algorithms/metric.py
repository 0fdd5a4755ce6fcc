"""Metres on IMIS data (EPSG:4326): never buffer or measure in degrees.

Both paths measure in a transverse Mercator projection of the WGS84 ellipsoid and divide by
the projection's exact point scale factor at the target (Snyder, Map Projections, eq. 8-11).
Transverse Mercator is conformal, so over the few hundred metres of a distance the corrected
value is the ellipsoidal distance to well under a millimetre (tests/qgis/test_metric.py
checks it against a brute-force geodesic and against PostGIS geography, which itself
approximates point-to-edge distances to about 1-2 mm).

QGIS path: a local transverse Mercator centred on the data (k0 = 1).
PostGIS path: the UTM zone of the data (an SRID every PostGIS has, so ST_Transform is cached;
a custom projection would need a spatial_ref_sys row, which a read-only analysis must not
write, and ST_Transform to a PROJ string is not cached: about 1 ms per geometry). Candidates
come from the GiST index on the geometry column with a box grown by a conservative number of
degrees. PostGIS geography would also do, but costs about 100 us per building/piece pair.
"""
import functools
import math

from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsCoordinateTransformContext,
    QgsGeometry,
    QgsRectangle,
)

WGS84 = QgsCoordinateReferenceSystem("EPSG:4326")

# Shortest length of a degree of latitude on WGS84 (at the equator) is 110574.3 m; a degree
# of longitude is at least 111319.5 m * cos(latitude). Using 110574 m * cos(latitude) for
# both axes over-estimates the margin slightly, which is the safe side.
METRES_PER_DEGREE_MIN = 110574.0
MARGIN_FACTOR = 1.01
# Great-circle edges bulge off the straight lon/lat segment by about L^2 tan(lat) / 8R:
# 1e-5 degree (about 1 m) covers edges up to about 10 km long.
EDGE_SLACK_DEGREES = 1e-5


# WGS84 second eccentricity squared.
E2P = 0.0067394967422764341
UTM_K0 = 0.9996


def tm_scale(longitude, latitude, central_meridian, k0=1.0):
    """Point scale factor of transverse Mercator on WGS84 at (longitude, latitude)."""
    phi = math.radians(latitude)
    cos_phi = math.cos(phi)
    t = math.tan(phi) ** 2
    c = E2P * cos_phi * cos_phi
    a2 = (math.radians(longitude - central_meridian) * cos_phi) ** 2
    return k0 * (1 + (1 + c) * a2 / 2 + (5 - 4 * t + 42 * c + 13 * c * c - 28 * E2P) * a2 * a2 / 24
                 + (61 - 148 * t + 16 * t * t) * a2 * a2 * a2 / 720)


def utm_zone(longitude, latitude):
    """(EPSG code, central meridian) of the UTM zone of a point."""
    zone = min(59, max(0, int(math.floor((longitude + 180.0) / 6.0))))
    return (32701 if latitude < 0 else 32601) + zone, -177.0 + 6.0 * zone


def margin_degrees(distance, max_abs_latitude):
    """Degrees (x, y) that surely contain every point within `distance` metres."""
    dy = distance * MARGIN_FACTOR / METRES_PER_DEGREE_MIN + EDGE_SLACK_DEGREES
    latitude = min(89.9, max_abs_latitude + dy)
    dx = distance * MARGIN_FACTOR / (METRES_PER_DEGREE_MIN * math.cos(math.radians(latitude))) + EDGE_SLACK_DEGREES
    return dx, dy


@functools.lru_cache(maxsize=16)
def _tmerc(longitude, latitude):
    """The CRS (creating one from a PROJ string takes about 0.1 s, so repeated runs reuse it)."""
    return QgsCoordinateReferenceSystem.fromProj(
        f"+proj=tmerc +lat_0={latitude:.6f} +lon_0={longitude:.6f} +k=1 +x_0=0 +y_0=0 "
        "+datum=WGS84 +units=m +no_defs +type=crs"
    )


class LocalMetric:
    """A metric CRS for one analysis, with cached transforms from the input CRSs."""

    def __init__(self, longitude, latitude, transform_context=None):
        self.longitude = longitude
        self.latitude = latitude
        self.crs = _tmerc(round(longitude, 6), round(latitude, 6))
        self.context = transform_context or QgsCoordinateTransformContext()
        self._transforms = {}

    @classmethod
    def centred_on(cls, extent, crs, transform_context=None):
        """The local metric centred on `extent` (a QgsRectangle in `crs`)."""
        context = transform_context or QgsCoordinateTransformContext()
        if crs.isValid() and crs != WGS84:
            extent = QgsCoordinateTransform(crs, WGS84, context).transformBoundingBox(extent)
        centre = extent.center()
        return cls(centre.x(), centre.y(), context)

    def scale(self, longitude, latitude):
        """The projection's scale factor at a point (divide projected metres by it)."""
        return tm_scale(longitude, latitude, self.longitude, 1.0)

    def transform_from(self, crs):
        """QgsCoordinateTransform from `crs` to this metric CRS (cached: it is asked per feature)."""
        last = self._transforms.get("last")
        if last is not None and last[0] is crs:
            return last[1]
        key = crs.authid() or crs.toWkt()
        if key not in self._transforms:
            self._transforms[key] = QgsCoordinateTransform(crs, self.crs, self.context)
        self._transforms["last"] = (crs, self._transforms[key])
        return self._transforms[key]

    def to_metric(self, geometry, crs):
        """A copy of `geometry` (in `crs`) in metres."""
        copy = QgsGeometry(geometry)
        copy.transform(self.transform_from(crs))
        return copy

    def from_metric(self, geometry, crs):
        """A copy of `geometry` (in metres) in `crs`."""
        copy = QgsGeometry(geometry)
        copy.transform(self.transform_from(crs), QgsCoordinateTransform.ReverseTransform)
        return copy

    def rect_to(self, rect, crs, grow=0.0):
        """A rectangle in `crs` that contains the metric `rect` grown by `grow` metres."""
        grown = QgsRectangle(rect)
        grown.grow(grow)
        return self.transform_from(crs).transformBoundingBox(grown, QgsCoordinateTransform.ReverseTransform)


def expand_sql(geometry_sql, distance_sql):
    """SQL: the box of a geometry in EPSG:4326 grown by `distance` metres (conservatively).

    Used with `&&` so PostgreSQL can use the GiST index on the geometry column before the
    exact geography test. Same constants as margin_degrees().
    """
    from psycopg2 import sql

    return sql.SQL(
        "ST_Expand({g}, {d} * {f} / ({m} * cos(radians(LEAST(89.9, GREATEST(abs(ST_YMin({g})), abs(ST_YMax({g})))"
        " + {d} * {f} / {m} + {e})))) + {e}, {d} * {f} / {m} + {e})"
    ).format(g=geometry_sql, d=distance_sql, f=sql.Literal(MARGIN_FACTOR), m=sql.Literal(METRES_PER_DEGREE_MIN),
             e=sql.Literal(EDGE_SLACK_DEGREES))


def tm_scale_sql(longitude_sql, latitude_sql, central_meridian_sql, k0):
    """SQL of tm_scale() (same series)."""
    from psycopg2 import sql

    return sql.SQL(
        "({k0} * (1 + (1 + {e} * cos(radians({lat})) ^ 2) * (radians({lon} - {lon0}) * cos(radians({lat}))) ^ 2 / 2"
        " + (5 - 4 * tan(radians({lat})) ^ 2 + 42 * {e} * cos(radians({lat})) ^ 2"
        " + 13 * ({e} * cos(radians({lat})) ^ 2) ^ 2 - 28 * {e}) * (radians({lon} - {lon0}) * cos(radians({lat}))) ^ 4 / 24"
        " + (61 - 148 * tan(radians({lat})) ^ 2 + 16 * tan(radians({lat})) ^ 4)"
        " * (radians({lon} - {lon0}) * cos(radians({lat}))) ^ 6 / 720))"
    ).format(k0=sql.Literal(k0), e=sql.Literal(E2P), lat=latitude_sql, lon=longitude_sql, lon0=central_meridian_sql)


def utm_zone_sql(extent_sql):
    """SQL: one row (srid, lon0) with the UTM zone of the centre of a box in EPSG:4326."""
    from psycopg2 import sql

    return sql.SQL(
        "SELECT (CASE WHEN lat < 0 THEN 32701 ELSE 32601 END + zone) AS srid, -177.0 + 6.0 * zone AS lon0 "
        "FROM (SELECT LEAST(59, GREATEST(0, floor(((ST_XMin(e) + ST_XMax(e)) / 2 + 180.0) / 6.0)))::int AS zone, "
        "(ST_YMin(e) + ST_YMax(e)) / 2 AS lat FROM ({extent}) AS box(e)) AS z"
    ).format(extent=extent_sql)
