"""Metres on IMIS data (EPSG:4326): never buffer or measure in degrees.

QGIS path: a local transverse Mercator on the WGS84 ellipsoid, centred on the data, scale 1
on its central meridian. Its scale error grows as (x/R)^2/2, so within 20 km of the centre a
distance of 100 m is off by less than 0.5 mm: it agrees with PostGIS geography distances to
well under 1 cm at city scale (tests/qgis/test_metric.py measures it).

PostGIS path: distances on geography (the spheroid), after a prefilter on the GiST index of
the geometry column with a box grown by a conservative number of degrees.
"""
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


def margin_degrees(distance, max_abs_latitude):
    """Degrees (x, y) that surely contain every point within `distance` metres."""
    dy = distance * MARGIN_FACTOR / METRES_PER_DEGREE_MIN + EDGE_SLACK_DEGREES
    latitude = min(89.9, max_abs_latitude + dy)
    dx = distance * MARGIN_FACTOR / (METRES_PER_DEGREE_MIN * math.cos(math.radians(latitude))) + EDGE_SLACK_DEGREES
    return dx, dy


class LocalMetric:
    """A metric CRS for one analysis, with cached transforms from the input CRSs."""

    def __init__(self, longitude, latitude, transform_context=None):
        self.longitude = longitude
        self.latitude = latitude
        self.crs = QgsCoordinateReferenceSystem.fromProj(
            f"+proj=tmerc +lat_0={latitude:.9f} +lon_0={longitude:.9f} +k=1 +x_0=0 +y_0=0 "
            "+datum=WGS84 +units=m +no_defs +type=crs"
        )
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

    def transform_from(self, crs):
        """QgsCoordinateTransform from `crs` to this metric CRS."""
        key = crs.toWkt()
        if key not in self._transforms:
            self._transforms[key] = QgsCoordinateTransform(crs, self.crs, self.context)
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
