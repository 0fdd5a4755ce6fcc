"""Water supply coverage in QGIS, for GeoPackages, shapefiles, memory layers or mixed sources.

The live pipes are cut into pieces in a local metric CRS under a spatial index
(nearest.SourceIndex, the same as the other analyses); each live building is measured there,
divided by the projection's scale factor at the building, and placed in a ward by its
centroid (wards.WardIndex).
"""
from qgis.core import QgsCoordinateTransform, QgsFeatureRequest, QgsGeometry, QgsRectangle

from . import lookups as lookup_tables
from .inputs import LIVE_FIELD, companion_rows, live_request, plain
from .metric import WGS84, LocalMetric
from .nearest import SourceIndex
from .water_coverage import PIPE_DELETED, PIPE_LIVE, PIPE_MISSING, pipe_code
from .water_supply import CoverageData
from .water_supply_postgis import PIPE_KEY, POPULATION_FIELD, RECORDED_FIELD, SOURCE_FIELD
from .wards import WardIndex, read_wards
from .zone_qgis import _describe


def _code(value):
    value = plain(value)
    return None if value is None else str(value)


def _read_pipes(request, context, progress):
    """(analysed [(code, geometry in EPSG:4326)], {code: (live, geometry in EPSG:4326)})."""
    info = request.pipes
    to_wgs84 = QgsCoordinateTransform(info.crs, WGS84, context.transformContext())

    def in_wgs84(geometry):
        if geometry.isNull() or geometry.isEmpty():
            return None
        copy = QgsGeometry(geometry)
        copy.transform(to_wgs84)
        return copy

    key_index = info.field_index(PIPE_KEY)
    analysed = []
    for feature in info.source.getFeatures(live_request(info, [PIPE_KEY])):
        progress.check()
        geometry = in_wgs84(feature.geometry())
        if geometry is not None:
            analysed.append((_code(feature.attribute(key_index)), geometry))
    table = request.all_pipes or info.full_source
    fields = table.fields()
    key_index, live_index = fields.lookupField(PIPE_KEY), fields.lookupField(LIVE_FIELD)
    everything = QgsFeatureRequest().setSubsetOfAttributes([i for i in (key_index, live_index) if i >= 0])
    everything.setInvalidGeometryCheck(QgsFeatureRequest.GeometryNoCheck)
    recorded = {}
    for feature in table.getFeatures(everything):
        progress.check()
        code = _code(feature.attribute(key_index))
        if code is None:
            continue
        live = live_index < 0 or plain(feature.attribute(live_index)) is None
        if code not in recorded or (live and not recorded[code][0]):
            recorded[code] = (live, in_wgs84(feature.geometry()))
    return analysed, recorded


def run(request, context, feedback, progress):
    info = request.buildings
    anchors = [info, request.pipes, request.wards]
    progress.step("select", "Reading the pipes (QGIS)…")
    where = []

    def fetch(name, columns):
        rows, found_in = companion_rows(anchors, name, columns)
        where.append(found_in)
        return rows

    found = lookup_tables.read_tables(fetch, "", names=("water_sources",))
    found.source = where[0] or ""
    analysed, recorded = _read_pipes(request, context, progress)
    extent = QgsRectangle()
    for _, geometry in analysed + [(None, g) for _, g in recorded.values() if g is not None]:
        extent.combineExtentWith(geometry.boundingBox())
    transform_context = context.transformContext()
    metric = LocalMetric.centred_on(extent, WGS84, transform_context) if not extent.isNull() else None
    index = SourceIndex()
    for code, geometry in analysed:
        index.add(code, metric.to_metric(geometry, WGS84))
    distance = float(request.distance)
    prefilter = index.prefilter(metric, info.crs, distance) if len(index) else None
    if metric is not None:
        feedback.pushInfo(f"Measuring in a local transverse Mercator centred on {metric.longitude:.5f}, "
                          f"{metric.latitude:.5f} (metres, corrected by its scale factor).")
    ward_index = None
    if request.wards is not None:
        ward_index = WardIndex(read_wards(request.wards, progress), request.wards.crs, transform_context)
    to_wgs84 = None if info.crs == WGS84 else QgsCoordinateTransform(info.crs, WGS84, transform_context)
    recorded_engines = {}

    def recorded_engine(code):
        if code not in recorded_engines:
            geometry = recorded[code][1]
            engine = None
            if geometry is not None:
                # Keep the geometry with its engine: the engine only points to it.
                geometry = metric.to_metric(geometry, WGS84)
                engine = QgsGeometry.createGeometryEngine(geometry.constGet())
                engine.prepareGeometry()
            recorded_engines[code] = (engine, geometry)
        return recorded_engines[code][0]

    data = CoverageData(rows=[], nearest={}, wards={}, water_sources=found.water_sources, lookups_source=found.source,
                        missing_lookups=found.missing, pipes_used=len(analysed), execution="QGIS",
                        data_source=_describe(info))
    names = ["bin", SOURCE_FIELD, RECORDED_FIELD, POPULATION_FIELD]
    indexes = {name: info.field_index(name) for name in names}
    total = max(1, info.feature_count)
    for number, feature in enumerate(info.source.getFeatures(live_request(info, names))):
        if number % 1000 == 0:
            progress.part(number, total)
        attributes = feature.attributes()

        def value(name):
            return plain(attributes[indexes[name]]) if indexes[name] >= 0 else None

        bin_ = value("bin")
        geometry = feature.geometry()
        if geometry.isNull() or geometry.isEmpty():
            data.null_footprints.append(bin_)
            continue
        nearest, measured, scale, metric_geometry = None, None, 1.0, None
        code = pipe_code(value(RECORDED_FIELD))
        state = None if code is None else recorded.get(code, (None, None))[0]
        state = None if code is None else (PIPE_MISSING if state is None else PIPE_LIVE if state else PIPE_DELETED)
        near_pipe = prefilter is not None and prefilter.intersects(geometry.boundingBox())
        if metric is not None and (near_pipe or state == PIPE_LIVE):
            centre = geometry.boundingBox().center()
            if to_wgs84 is not None:
                centre = to_wgs84.transform(centre)
            scale = metric.scale(centre.x(), centre.y())
            metric_geometry = metric.to_metric(geometry, info.crs)
        if near_pipe:
            found_pipe = index.nearest(metric_geometry, distance, scale)
            if found_pipe is not None:
                nearest, measured = found_pipe
        recorded_distance = None
        if state == PIPE_LIVE and code != nearest:
            engine = recorded_engine(code)
            if engine is not None:
                recorded_distance = engine.distance(metric_geometry.constGet()) / scale
        ward = ward_index.ward_of(geometry, info.crs) if ward_index is not None else None
        if nearest is not None:
            data.nearest[bin_] = (nearest, measured)
        if ward is not None:
            data.wards[bin_] = ward
        data.rows.append((bin_, QgsGeometry(geometry), value(SOURCE_FIELD), code, value(POPULATION_FIELD), state,
                          recorded_distance))
    progress.step("read", f"{len(data.rows)} buildings measured.")
    data.rows.sort(key=lambda row: str(row[0]))
    data.null_footprints.sort(key=str)
    return data
