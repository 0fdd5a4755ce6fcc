"""Which ward a building lies in: the ward polygon that contains its footprint centroid.

The centroid is the planar centroid of the footprint in the buildings' CRS (ST_Centroid in
PostGIS, QgsGeometry.centroid in QGIS: the same point). A centroid on the border of two wards
(or in overlapping ward polygons) goes to the smaller ward number, so both paths agree.
IMIS's own `buildings.ward` attribute is chosen by the surveyor (DATABASE.md 4.1) and is not
used here.
"""
from qgis.core import QgsCoordinateTransform, QgsGeometry, QgsSpatialIndex

from .errors import AnalysisError
from .inputs import live_request, plain

WARD_FIELD = "ward"


def ward_of_sql(wards, buildings_rows, buildings_where, buildings_geometry, params):
    """SQL for a CTE: (key = BIN, ward) of every live building whose centroid lies in a ward.

    wards: PostgisTable of the ward layer (its filter, live rows and selection apply);
    buildings_rows / buildings_where: the buildings as `b` (PostgisTable.rows / conditions);
    buildings_geometry: sql.Identifier of their geometry column.
    Driven by the wards, so each ward polygon is prepared once and tested against the
    buildings its box covers (GiST index on the buildings' geometry column).
    """
    from psycopg2 import sql

    w_where, p = wards.conditions("w", "ward_keys")
    params.update(p)
    wgeom = sql.Identifier(wards.geometry_column)
    return sql.SQL(
        "SELECT b.bin AS key, min(w.{ward}) AS ward "
        "FROM {wrows} JOIN {brows} ON b.{bg} && w.{wg} "
        "WHERE {w_where} AND {b_where} AND w.{wg} IS NOT NULL AND ST_Intersects(w.{wg}, ST_Centroid(b.{bg})) "
        "GROUP BY b.bin"
    ).format(ward=sql.Identifier(WARD_FIELD), wrows=wards.rows("w"), brows=buildings_rows, wg=wgeom, bg=buildings_geometry,
             w_where=w_where, b_where=buildings_where)


def read_wards(info, progress):
    """[(ward number, QgsGeometry or None)] of the live wards of `info` (selection applies)."""
    info.require_fields((WARD_FIELD,), "the ward number")
    index = info.field_index(WARD_FIELD)
    wards = []
    for feature in info.source.getFeatures(live_request(info, [WARD_FIELD])):
        progress.check()
        geometry = feature.geometry()
        wards.append((plain(feature.attribute(index)),
                      None if geometry.isNull() or geometry.isEmpty() else QgsGeometry(geometry)))
    return wards


def ward_keys(wards):
    """The distinct ward numbers, and a message when a number occurs more than once."""
    keys, seen, repeated = [], set(), []
    for key, _ in wards:
        if key in seen:
            repeated.append(key)
            continue
        seen.add(key)
        keys.append(key)
    if None in seen:
        raise AnalysisError("A ward in the ward layer has no ward number: fill in the field 'ward'.")
    message = None
    if repeated:
        message = (f"Ward number{'s' if len(set(repeated)) > 1 else ''} "
                   f"{', '.join(str(key) for key in sorted(set(repeated), key=str))} occur in more than one "
                   "ward polygon: their buildings are counted together.")
    return keys, message


class WardIndex:
    """Ward polygons under a spatial index, for centroid-in-ward tests (QGIS path)."""

    def __init__(self, wards, wards_crs, transform_context):
        self.crs = wards_crs
        self.context = transform_context
        self._keys, self._engines = [], []
        self._index = QgsSpatialIndex()
        for key, geometry in wards:
            if geometry is None:
                continue
            engine = QgsGeometry.createGeometryEngine(geometry.constGet())
            engine.prepareGeometry()
            self._index.addFeature(len(self._keys), geometry.boundingBox())
            self._keys.append(key)
            self._engines.append(engine)
        self._transforms = {}

    def _transform(self, crs):
        key = crs.toWkt()
        if key not in self._transforms:
            self._transforms[key] = None if crs == self.crs else QgsCoordinateTransform(crs, self.crs, self.context)
        return self._transforms[key]

    def ward_of(self, footprint, crs):
        """Ward number whose polygon contains the centroid of `footprint` (in `crs`), else None."""
        centroid = footprint.centroid()
        if centroid.isNull() or centroid.isEmpty():
            return None
        transform = self._transform(crs)
        if transform is not None:
            centroid.transform(transform)
        point = centroid.constGet()
        best = None
        for ward_id in self._index.intersects(centroid.boundingBox()):
            key = self._keys[ward_id]
            if (best is None or _before(key, best)) and self._engines[ward_id].intersects(point):
                best = key
        return best


def _before(a, b):
    try:
        return a < b
    except TypeError:
        return str(a) < str(b)
