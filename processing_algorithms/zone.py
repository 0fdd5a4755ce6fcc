"""Buildings (and containments) within a distance of source features: the shared analysis.

A ZoneRequest names the source layer (water bodies, drains, pipes), the buildings, the
optional containments and the distance; run_zone() answers it with a ZoneResult, in PostGIS
when every input is a PostGIS table of one database (zone_postgis), else in QGIS (zone_qgis).
Both paths follow the same rules and return the same records.

Semantics (ANALYSES.md 2-5, plugin rules): a building is in the zone when the geodesic
distance from its footprint to a selected live source feature is at most the distance;
with imis_compatible, when its footprint intersects IMIS's buffer polygon B(union, d).
"""
import math
from dataclasses import dataclass, field

from qgis.core import QgsCoordinateReferenceSystem, QgsCoordinateTransform, QgsGeometry, QgsRectangle

from .metric import WGS84, LocalMetric

# Building columns every zone analysis reads (besides the key `bin` and the geometry).
BUILDING_FIELDS = ("bin", "structure_type_id", "sanitation_system_id")
CONTAINMENT_FIELDS = ("id", "type_id")


@dataclass
class ZoneRequest:
    sources: object  # InputLayer of the source features
    buildings: object  # InputLayer
    distance: float
    source_key: str  # key field of the sources ("id" for water bodies, "code" for networks)
    containments: object = None  # InputLayer or None
    source_name: str = None  # optional field naming a source (e.g. "name")
    source_kind: str = None  # optional field with the source's kind (e.g. "type")
    kinds: tuple = None  # keep sources whose kind (trimmed, lower case) is one of these; None = all
    imis_compatible: bool = False
    with_list: bool = False  # read the Buildings List / Containment List columns and owners
    building_fields: tuple = ()  # further building columns a caller needs (in records' attributes)
    include_outside: bool = False  # also return live buildings beyond the distance (distance None)
    # List the live buildings without a footprint (ZoneResult.null_footprints); in PostGIS that
    # scans the whole buildings table, which a one-line analysis may not want to pay for.
    find_null_footprints: bool = True


@dataclass
class ZoneResult:
    buildings: list  # BuildingRecords (in the zone, or all when include_outside)
    containments: list  # ContainmentRecords
    sources: list  # SourceRecords of the source features used
    lookups: object
    owners: dict = field(default_factory=dict)  # BIN -> {owner column: value} (with_list only)
    zone: object = None  # QgsGeometry in EPSG:4326 (IMIS buffer polygon), None in exact mode
    null_footprints: list = field(default_factory=list)  # BINs of live buildings without footprint
    invalid_footprints: list = field(default_factory=list)  # BINs (in the zone) with invalid footprint
    execution: str = ""  # "PostGIS" or "QGIS"
    data_source: str = ""  # where the data came from (no credentials)
    links_found: bool = True  # False when no build_contains table was found
    warnings: list = field(default_factory=list)


def run_zone(request, context, feedback, progress):
    """Answer `request`, in PostGIS when possible. `progress` is a base.Progress."""
    from .inputs import postgis_database

    uri = postgis_database([request.sources, request.buildings, request.containments])
    if uri is not None:
        from . import zone_postgis

        return zone_postgis.run(request, uri, feedback, progress)
    from . import zone_qgis

    return zone_qgis.run(request, context, feedback, progress)


def normalized_kind(value):
    """Water body types are free text (10 characters): compare trimmed and case-insensitively."""
    return None if value is None else str(value).strip().lower()


def display_zone(geometries, distance, segments=8):
    """The zone as a polygon for the map: the sources buffered by `distance` metres, unioned.

    geometries: source geometries in EPSG:4326. Only for display: membership is decided by
    distances, not by this polygon.
    """
    geometries = [geometry for geometry in geometries if geometry and not geometry.isEmpty()]
    if not geometries:
        return None
    metric = LocalMetric.centred_on(_extent(geometries), WGS84)
    buffers = [metric.to_metric(geometry, WGS84).buffer(distance, segments) for geometry in geometries]
    union = QgsGeometry.unaryUnion([buffer for buffer in buffers if not buffer.isEmpty()])
    if union.isNull() or union.isEmpty():
        return None
    return metric.from_metric(union, WGS84)


def _extent(geometries):
    extent = QgsRectangle(geometries[0].boundingBox())
    for geometry in geometries[1:]:
        extent.combineExtentWith(geometry.boundingBox())
    return extent


def best_srid(extent):
    """The EPSG code PostGIS's _ST_BestSRID picks for a city-size extent in EPSG:4326.

    IMIS's buffer B(g, d) is ST_Buffer(g::geography, d): PostGIS projects g to this CRS,
    buffers with 8 segments per quarter circle and projects back (ANALYSES.md 2.2).
    """
    centre_x = (extent.xMinimum() + extent.xMaximum()) / 2.0
    centre_y = (extent.yMinimum() + extent.yMaximum()) / 2.0
    if extent.width() >= 6.0 or abs(centre_y) > 65.0:
        return None  # beyond one UTM zone (or polar): not a city-size area
    zone = min(59, int(math.floor((centre_x + 180.0) / 6.0)))
    return (32701 if centre_y < 0.0 else 32601) + zone


def imis_zone(geometries, distance, transform_context=None):
    """IMIS's buffer polygon B(union of geometries, d) in EPSG:4326 (QGIS path).

    Same steps as ST_Buffer(ST_Union(geom)::geography, d)::geometry.
    """
    from qgis.core import QgsCoordinateTransformContext

    from .errors import AnalysisError

    union = QgsGeometry.unaryUnion(geometries)
    if union.isNull() or union.isEmpty():
        return None
    srid = best_srid(union.boundingBox())
    if srid is None:
        raise AnalysisError("The water bodies span more than one UTM zone: IMIS-compatible buffers are only defined "
                            "for city-size areas. Turn off IMIS-compatible mode.")
    utm = QgsCoordinateReferenceSystem(f"EPSG:{srid}")
    transform = QgsCoordinateTransform(WGS84, utm, transform_context or QgsCoordinateTransformContext())
    projected = QgsGeometry(union)
    projected.transform(transform)
    buffered = projected.buffer(distance, 8)
    buffered.transform(transform, QgsCoordinateTransform.ReverseTransform)
    return buffered
