"""The zone analysis in QGIS, for GeoPackages, shapefiles, memory layers or mixed sources.

Source features are cut into pieces in a local metric CRS under a spatial index
(nearest.SourceIndex). Each live building is first tested against a coarse index of grown
piece boxes in the buildings' own CRS, so only buildings near a source are reprojected and
measured. Same rules and records as zone_postgis.
"""
from qgis.core import QgsCoordinateTransform, QgsGeometry, QgsRectangle

from . import containments as containment_rules
from . import excel
from . import lookups as lookup_tables
from .errors import AnalysisError
from .inputs import companion_rows, companion_source, live_request, plain
from .metric import WGS84, LocalMetric
from .nearest import SourceIndex
from .records import BuildingRecord, ContainmentRecord, SourceRecord
from .zone import BUILDING_FIELDS, CONTAINMENT_FIELDS, ZoneResult, imis_zone, normalized_kind


def _read_sources(request, context, progress):
    info = request.sources
    to_wgs84 = QgsCoordinateTransform(info.crs, WGS84, context.transformContext())
    names = [name for name in (request.source_key, request.source_name, request.source_kind)
             if name and info.field_index(name) >= 0]
    key_index = info.field_index(request.source_key) if request.source_key else -1
    name_index = info.field_index(request.source_name) if request.source_name else -1
    kind_index = info.field_index(request.source_kind) if request.source_kind else -1
    sources = []
    for feature in info.source.getFeatures(live_request(info, names)):
        progress.check()
        if request.kinds is not None and normalized_kind(plain(feature.attribute(kind_index))) not in request.kinds:
            continue
        geometry = feature.geometry()
        if geometry.isNull() or geometry.isEmpty():
            continue
        geometry = QgsGeometry(geometry)
        geometry.transform(to_wgs84)
        key = plain(feature.attribute(key_index)) if key_index >= 0 else feature.id()
        sources.append(SourceRecord(key, plain(feature.attribute(name_index)) if name_index >= 0 else None,
                                    plain(feature.attribute(kind_index)) if kind_index >= 0 else None, geometry))
    return sources


def _lookups(anchors):
    sources, where = {}, None
    for name in lookup_tables.TABLES:
        source, found = companion_source(anchors, name)
        sources[name] = source
        where = where or found
    return lookup_tables.read_feature_sources(sources, where or "")


def _extent(geometries):
    extent = QgsRectangle()
    for geometry in geometries:
        extent.combineExtentWith(geometry.boundingBox())
    return extent


class _Measure:
    """Distances (and, in IMIS mode, the buffer test) from any input CRS."""

    def __init__(self, request, sources, context):
        self.request = request
        self.context = context.transformContext()
        self.metric = LocalMetric.centred_on(_extent([s.geometry for s in sources]), WGS84, self.context)
        self.index = SourceIndex()
        for source in sources:
            self.index.add(source.key, self.metric.to_metric(source.geometry, WGS84))
        distance = float(request.distance)
        self.reach = distance * 1.001 + 0.01 if request.imis_compatible else distance
        self.zone = None
        self._zone_engines = {}
        if request.imis_compatible:
            self.zone = imis_zone([s.geometry for s in sources], distance, self.context)

    def prefilter(self, crs):
        return self.index.prefilter(self.metric, crs, self.reach)

    def nearest(self, geometry, crs):
        """(source key, metres) or None, following the request's semantics."""
        if self.zone is not None:
            in_zone = self._in_imis_zone(geometry, crs)
            if not in_zone:
                return None
            found = self.index.nearest(self.metric.to_metric(geometry, crs), self.reach)
            return found or (None, None)
        return self.index.nearest(self.metric.to_metric(geometry, crs), self.reach)

    def _in_imis_zone(self, geometry, crs):
        if self.zone is None or self.zone.isEmpty():
            return False
        key = crs.toWkt()
        if key not in self._zone_engines:
            zone = QgsGeometry(self.zone)
            if crs != WGS84:
                zone.transform(QgsCoordinateTransform(WGS84, crs, self.context))
            engine = QgsGeometry.createGeometryEngine(zone.constGet())
            engine.prepareGeometry()
            self._zone_engines[key] = (engine, zone.boundingBox())
        engine, box = self._zone_engines[key]
        return box.intersects(geometry.boundingBox()) and engine.intersects(geometry.constGet())


def _read_buildings(request, measure, progress):
    info = request.buildings
    extra = list(request.building_fields) + (list(excel.BUILDING_LIST_FIELDS) if request.with_list else [])
    extra = [name for name in dict.fromkeys(extra) if info.field_index(name) >= 0 and name not in BUILDING_FIELDS]
    indexes = {name: info.field_index(name) for name in BUILDING_FIELDS + tuple(extra)}
    prefilter = measure.prefilter(info.crs)
    records, null_footprints, invalid = [], [], []
    total = max(1, info.feature_count)
    for number, feature in enumerate(info.source.getFeatures(live_request(info, list(indexes)))):
        if number % 1000 == 0:
            progress.part(number, total)
        attributes = feature.attributes()
        bin_ = plain(attributes[indexes["bin"]])
        geometry = feature.geometry()
        if geometry.isNull() or geometry.isEmpty():
            null_footprints.append(bin_)
            continue
        found = None
        if prefilter.intersects(geometry.boundingBox()):
            found = measure.nearest(geometry, info.crs)
        if found is None and not request.include_outside:
            continue
        source_key, distance = found if found is not None else (None, None)
        record = BuildingRecord(bin_, distance, source_key, plain(attributes[indexes["structure_type_id"]]),
                                plain(attributes[indexes["sanitation_system_id"]]), QgsGeometry(geometry),
                                {name: plain(attributes[indexes[name]]) for name in extra}, found is not None)
        if found is not None and not geometry.isGeosValid():
            invalid.append(bin_)
        records.append(record)
    return records, null_footprints, invalid


def _live_keys(info, field_name, progress):
    """Key values of the live rows of the whole layer (its filter applies, its selection not)."""
    index = info.field_index(field_name)
    keys = set()
    for feature in info.full_source.getFeatures(live_request(info, [field_name], geometry=False)):
        progress.check()
        keys.add(plain(feature.attribute(index)))
    return keys


def _read_containments(request, measure, zone_bins, anchors, progress, warnings):
    info = request.containments
    link_rows, _ = companion_rows(anchors, "build_contains", ("bin", "containment_id"))
    if link_rows is None:
        warnings.append("No build_contains table was found next to the layers: every containment was judged by "
                        "its own point.")
        link_rows = []
    live_bins = _live_keys(request.buildings, "bin", progress)
    live_containments = _live_keys(info, "id", progress)
    linked = containment_rules.links_by_containment(
        ((bin_, containment_id) for bin_, containment_id in link_rows if containment_id in live_containments),
        live_bins)
    extra = [name for name in excel.CONTAINMENT_LIST_FIELDS if info.field_index(name) >= 0] \
        if request.with_list else []
    indexes = {name: info.field_index(name) for name in CONTAINMENT_FIELDS + tuple(extra)}
    candidates = {}
    for feature in info.source.getFeatures(live_request(info, list(indexes))):
        progress.check()
        attributes = feature.attributes()
        candidates[plain(attributes[indexes["id"]])] = (feature.geometry(), attributes)

    def own_distance(containment_id):
        geometry = candidates[containment_id][0]
        if geometry.isNull() or geometry.isEmpty():
            return None
        found = measure.nearest(geometry, info.crs)
        return None if found is None else found[1]

    records = []
    for choice in containment_rules.choose_containments(candidates, linked, zone_bins, own_distance,
                                                        progress.feedback):
        geometry, attributes = candidates[choice.id]
        records.append(ContainmentRecord(
            choice.id, plain(attributes[indexes["type_id"]]), choice.bins, choice.served, choice.distance,
            QgsGeometry(geometry), {name: plain(attributes[indexes[name]]) for name in extra}))
    progress.check()
    return records


def _owners(anchors):
    rows, _ = companion_rows(anchors, "owners", ("bin",) + excel.OWNER_FIELDS)
    return {row[0]: dict(zip(excel.OWNER_FIELDS, row[1:])) for row in rows or []}


def run(request, context, feedback, progress):
    request.buildings.require_fields(BUILDING_FIELDS)
    if request.containments is not None:
        request.containments.require_fields(CONTAINMENT_FIELDS)
    anchors = [request.buildings, request.containments, request.sources]
    progress.step("select", "Reading the source features (QGIS)…")
    found_lookups = _lookups(anchors)
    sources = _read_sources(request, context, progress)
    if not sources:
        raise AnalysisError(f"No live feature with a geometry in the {request.sources.role} "
                            f"'{request.sources.name}' matches the choice.")
    measure = _Measure(request, sources, context)
    progress.feedback.pushInfo(f"Measuring in a local transverse Mercator centred on "
                               f"{measure.metric.longitude:.5f}, {measure.metric.latitude:.5f} (metres).")
    buildings, null_footprints, invalid = _read_buildings(request, measure, progress)
    progress.step("read", f"{len(buildings)} buildings selected.")
    result = ZoneResult(buildings=sorted(buildings, key=lambda record: record.bin), containments=[],
                        sources=sources, lookups=found_lookups, zone=measure.zone, execution="QGIS",
                        data_source=_describe(request.buildings), null_footprints=sorted(null_footprints),
                        invalid_footprints=sorted(invalid))
    if request.containments is not None:
        zone_bins = {record.bin for record in buildings if record.in_zone}
        result.containments = _read_containments(request, measure, zone_bins, anchors, progress, result.warnings)
        result.links_found = not result.warnings
    if request.with_list:
        result.owners = _owners(anchors)
    return result


def _describe(info):
    if info.gpkg_path:
        return f"GeoPackage {info.gpkg_path}"
    return f"layer '{info.name}' ({info.provider})"
