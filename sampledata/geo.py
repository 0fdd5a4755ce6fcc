"""Frame (metres) to EPSG:4326 conversion, WKT text, geodesic measures.

Coordinates are rounded to 8 decimals (about 1 mm) *before* any measure is taken, so
that areas computed here are those PostGIS computes from the stored geometry.
Geodesic measures use pyproj.Geod on WGS 84 (GeographicLib, as PostGIS geography).
"""
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
from pyproj import Geod, Transformer

from . import layout

DECIMALS = 8
# As PostGIS: WGS 84 given by its semi-major and semi-minor axes (PostGIS derives the
# flattening from b, which differs from 1/298.257223563 in the last bits; with ellps="WGS84"
# areas differ by ~1e-5 m2, enough to flip a rounding to 0.01 m2 now and then).
GEOD = Geod(a=6378137.0, b=6356752.314245179)
_TO_LONLAT = Transformer.from_crs("EPSG:32645", "EPSG:4326", always_xy=True)


def lonlat(lay, xy):
    """Frame coordinates (..., 2) to rounded lon/lat (..., 2)."""
    xy = np.asarray(xy, dtype=float)
    shape = xy.shape
    u = layout.to_utm(lay, xy.reshape(-1, 2))
    lon, lat = _TO_LONLAT.transform(u[:, 0], u[:, 1])
    out = np.stack([np.round(lon, DECIMALS), np.round(lat, DECIMALS)], axis=1)
    return out.reshape(shape)


def _fmt(v):
    return "%.8f" % v


def _coords(ring, close):
    pts = [f"{_fmt(x)} {_fmt(y)}" for x, y in ring]
    if close:
        pts.append(pts[0])
    return ",".join(pts)


def wkt_multipolygon(polys):
    """polys: list of polygons, each a list of rings (k,2) lon/lat, not closed."""
    return "MULTIPOLYGON(" + ",".join(
        "(" + ",".join("(" + _coords(r, True) + ")" for r in poly) + ")" for poly in polys) + ")"


def wkt_rect_batch(corners):
    """One-part MULTIPOLYGON WKT for each quadrilateral of (N,4,2) lon/lat corners."""
    f = np.char.mod("%.8f", corners)
    out = []
    for q in f:
        a = f"{q[0, 0]} {q[0, 1]}"
        out.append(f"MULTIPOLYGON((({a},{q[1, 0]} {q[1, 1]},{q[2, 0]} {q[2, 1]},{q[3, 0]} {q[3, 1]},{a})))")
    return out


def wkt_multilinestring(lines):
    return "MULTILINESTRING(" + ",".join("(" + _coords(l, False) + ")" for l in lines) + ")"


def wkt_point(p):
    return f"POINT({_fmt(p[0])} {_fmt(p[1])})"


def ring_area(ring):
    """Geodesic area (m2) of one lon/lat ring, absolute value (as PostGIS)."""
    a, _ = GEOD.polygon_area_perimeter(ring[:, 0], ring[:, 1])
    return abs(a)


def polys_area(polys):
    """Geodesic area of a multipolygon (outer rings minus holes), as ST_Area(geography)."""
    total = 0.0
    for poly in polys:
        total += ring_area(poly[0]) - sum(ring_area(h) for h in poly[1:])
    return total


def line_length(line):
    return GEOD.line_length(line[:, 0], line[:, 1])


def round2(x):
    """Round half away from zero to 2 decimals, as numeric(10,2) does with x's text form."""
    return float(Decimal(repr(float(x))).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def quad_centroids(q):
    """Planar (lon/lat) area centroids of quadrilaterals (N,4,2), as ST_Centroid."""
    ref = q[:, :1, :]                      # shift to the first vertex: no cancellation
    x, y = q[..., 0] - ref[..., 0], q[..., 1] - ref[..., 1]
    x1, y1 = np.roll(x, -1, axis=1), np.roll(y, -1, axis=1)
    cr = x * y1 - x1 * y
    a = cr.sum(axis=1) / 2
    cx = ((x + x1) * cr).sum(axis=1) / (6 * a)
    cy = ((y + y1) * cr).sum(axis=1) / (6 * a)
    return np.stack([cx, cy], axis=1) + ref[:, 0, :]


def ogr_polygon(rings):
    """OGR polygon from frame rings (list of (k,2))."""
    from osgeo import ogr

    poly = ogr.Geometry(ogr.wkbPolygon)
    for r in rings:
        ring = ogr.Geometry(ogr.wkbLinearRing)
        for x, y in r:
            ring.AddPoint_2D(float(x), float(y))
        ring.AddPoint_2D(float(r[0][0]), float(r[0][1]))
        poly.AddGeometry(ring)
    return poly


def ogr_to_polys(geom):
    """Frame OGR (multi)polygon to a list of polygons (lists of (k,2) rings, not closed)."""
    from osgeo import ogr

    out = []
    if geom is None or geom.IsEmpty():
        return out
    t = ogr.GT_Flatten(geom.GetGeometryType())
    if t == ogr.wkbPolygon:
        parts = [geom]
    elif t in (ogr.wkbMultiPolygon, ogr.wkbGeometryCollection):
        parts = [geom.GetGeometryRef(i) for i in range(geom.GetGeometryCount())]
        parts = [p for p in parts if ogr.GT_Flatten(p.GetGeometryType()) == ogr.wkbPolygon]
    else:
        return out
    for p in parts:
        rings = []
        for i in range(p.GetGeometryCount()):
            r = np.array(p.GetGeometryRef(i).GetPoints())[:, :2]
            if len(r) > 1 and np.allclose(r[0], r[-1]):
                r = r[:-1]
            rings.append(r)
        if rings and abs(_shoelace(rings[0])) > 1e-6:
            out.append(rings)
    return out


def _shoelace(r):
    x, y = r[:, 0], r[:, 1]
    return 0.5 * np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y)


def polys_lonlat(lay, polys):
    return [[lonlat(lay, r) for r in poly] for poly in polys]
