"""The zone analysis in QGIS, for GeoPackages, shapefiles, memory layers or mixed sources.

Source features are cut into pieces in a local metric CRS under a spatial index
(nearest.SourceIndex). Each live building is first tested against a coarse index of grown
piece boxes in the buildings' own CRS, so only buildings near a source are reprojected and
measured; attributes are read only for those. Same rules and records as zone_postgis.
"""
import math

from qgis.core import QgsCoordinateTransform, QgsExpression, QgsFeatureRequest, QgsGeometry, QgsRectangle

from . import containments as containment_rules
from . import excel
from . import lookups as lookup_tables
from .errors import AnalysisError
from .inputs import companion_rows, gpkg_live_values, live_request, plain
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
    where = []

    def fetch(name, columns):
        rows, found = companion_rows(anchors, name, columns)
        if found and not where:
            where.append(found)
        return rows

    return lookup_tables.read_tables(fetch, "", tuple(lookup_tables.TABLES)), where


def _extent(geometries):
    extent = QgsRectangle()
    for geometry in geometries:
        extent.combineExtentWith(geometry.boundingBox())
    return extent


class _Measure:
    """Distances (and, in IMIS mode, the buffer test) for targets of one CRS."""

    def __init__(self, request, sources, context):
        self.context = context.transformContext()
        self.metric = LocalMetric.centred_on(_extent([s.geometry for s in sources]), WGS84, self.context)
        self.index = SourceIndex()
        for source in sources:
            self.index.add(source.key, self.metric.to_metric(source.geometry, WGS84))
        distance = float(request.distance)
        self.reach = distance * 1.001 + 0.01 if request.imis_compatible else distance
        self.zone = imis_zone([s.geometry for s in sources], distance, self.context) \
            if request.imis_compatible else None
        # A polygon that surely holds every target within reach: the sources buffered by a bit
        # more than the reach, circumscribed (the buffer's 32-gons lie inside the circle). One
        # prepared test per target then rejects nearly all targets beyond the distance.
        grow = (self.reach * 1.01 + 1.0) / math.cos(math.pi / 32)
        self.outer = QgsGeometry.unaryUnion([self.metric.to_metric(s.geometry, WGS84).buffer(grow, 8)
                                             for s in sources])

    def for_crs(self, crs):
        return _Targets(self, crs)


class _Targets:
    """Measures geometries of one CRS: transforms and the prefilter are built once."""

    def __init__(self, measure, crs):
        self.measure = measure
        self.crs = crs
        self.metric = measure.metric
        self.to_metric = measure.metric.transform_from(crs)
        self.to_wgs84 = None if crs == WGS84 else QgsCoordinateTransform(crs, WGS84, measure.context)
        outer = measure.metric.from_metric(measure.outer, crs)
        self.outer_box = outer.boundingBox()
        self.outer_engine = QgsGeometry.createGeometryEngine(outer.constGet())
        self.outer_engine.prepareGeometry()
        self.zone_engine = self.zone_box = None
        if measure.zone is not None and not measure.zone.isEmpty():
            zone = QgsGeometry(measure.zone)
            if self.to_wgs84 is not None:
                zone.transform(self.to_wgs84, QgsCoordinateTransform.ReverseTransform)
            self.zone_engine = QgsGeometry.createGeometryEngine(zone.constGet())
            self.zone_engine.prepareGeometry()
            self.zone_box = zone.boundingBox()

    def rects(self):
        """Rectangles in the targets' CRS that hold every target within reach of a source."""
        grow = self.measure.reach * 1.01 + 1.0
        return merged_rects([self.metric.rect_to(box, self.crs, grow) for box in self.measure.index.boxes()])

    def nearest(self, geometry, box=None):
        """(source key, metres) of the nearest source, or None when the target is not in the zone.

        In IMIS mode the zone is IMIS's buffer polygon; the key and distance are then those of
        the nearest source (None, None when beyond the measured reach).
        """
        box = box or geometry.boundingBox()
        if self.measure.zone is not None:
            if self.zone_engine is None or not self.zone_box.intersects(box) or \
                    not self.zone_engine.intersects(geometry.constGet()):
                return None
        elif not self.outer_box.intersects(box) or not self.outer_engine.intersects(geometry.constGet()):
            return None
        centre = box.center()
        if self.to_wgs84 is not None:
            centre = self.to_wgs84.transform(centre)
        projected = QgsGeometry(geometry)
        projected.transform(self.to_metric)
        found = self.measure.index.nearest(projected, self.measure.reach, self.metric.scale(centre.x(), centre.y()))
        if self.measure.zone is not None:
            return found or (None, None)
        return found


def _near_only(info):
    """Read only the features near the sources (through the GeoPackage's R-tree), instead of all?"""
    return bool(info.gpkg_path and info.gpkg_table and not info.selected_only)


def merged_rects(rects, slack=1.3):
    """Fewer, larger rectangles covering `rects`: neighbours merge while their union stays
    within `slack` times their areas (a river's pieces chain into a few boxes)."""
    merged = []
    for rect in sorted(rects, key=lambda r: (r.xMinimum(), r.yMinimum())):
        for index in range(len(merged) - 1, max(-1, len(merged) - 9), -1):
            union = QgsRectangle(merged[index])
            union.combineExtentWith(rect)
            if union.area() <= (merged[index].area() + rect.area()) * slack:
                merged[index] = union
                break
        else:
            merged.append(QgsRectangle(rect))
    return merged


def _features_near(info, request, rects, progress):
    """Features of `info` in any of `rects`, each once."""
    seen = set()
    for rect in rects:
        progress.check()
        near = QgsFeatureRequest(request)
        near.setFilterRect(rect)
        for feature in info.source.getFeatures(near):
            if feature.id() not in seen:
                seen.add(feature.id())
                yield feature


def _read_buildings(request, measure, progress, live_bins):
    """BuildingRecords of the zone; fills `live_bins` (when not None) with every live BIN read."""
    info = request.buildings
    extra = list(request.building_fields) + (list(excel.BUILDING_LIST_FIELDS) if request.with_list else [])
    extra = [name for name in dict.fromkeys(extra) if info.field_index(name) >= 0 and name not in BUILDING_FIELDS]
    bin_index = info.field_index("bin")
    type_index = info.field_index("structure_type_id")
    system_index = info.field_index("sanitation_system_id")
    extra_indexes = [(name, info.field_index(name)) for name in extra]
    targets = measure.for_crs(info.crs)
    records, null_footprints, invalid = [], [], []
    total = max(0, info.feature_count)  # 0: unknown (Progress.part then reports the step's end)
    request_ = live_request(info, ["bin", "structure_type_id", "sanitation_system_id"] + extra)
    features = info.source.getFeatures(request_)
    if _near_only(info) and not request.include_outside:
        null_bins = gpkg_live_values(info, "bin", null_geometry=True)
        found_bins = gpkg_live_values(info, "bin") if live_bins is not None else []
        if null_bins is not None and found_bins is not None:
            null_footprints.extend(null_bins)
            if live_bins is not None:
                live_bins.update(value for value in found_bins if isinstance(value, str))
                live_bins = None
            features = _features_near(info, request_, targets.rects(), progress)
    for number, feature in enumerate(features):
        if number % 2000 == 0:
            progress.part(number, total)
        if live_bins is not None:
            value = feature.attribute(bin_index)
            if isinstance(value, str):
                live_bins.add(value)
        geometry = feature.geometry()
        if geometry.isEmpty():
            null_footprints.append(plain(feature.attribute(bin_index)))
            continue
        found = targets.nearest(geometry)
        if found is None and not request.include_outside:
            continue
        bin_ = plain(feature.attribute(bin_index))
        source_key, distance = found if found is not None else (None, None)
        records.append(BuildingRecord(
            bin_, distance, source_key, plain(feature.attribute(type_index)), plain(feature.attribute(system_index)),
            geometry, {name: plain(feature.attribute(index)) for name, index in extra_indexes}, found is not None))
        if found is not None and not geometry.isGeosValid():
            invalid.append(bin_)
    return records, null_footprints, invalid


def _all_live_bins(info, progress):
    """BINs of the live buildings of the whole layer (its filter applies, its selection not)."""
    index = info.field_index("bin")
    bins = set()
    for number, feature in enumerate(info.full_source.getFeatures(live_request(info, ["bin"], geometry=False))):
        if number % 5000 == 0:
            progress.check()
        value = feature.attribute(index)
        if isinstance(value, str):
            bins.add(value)
    return bins


def _read_containments(request, measure, zone_bins, link_rows, live_bins, progress):
    info = request.containments
    linked = containment_rules.links_by_containment(link_rows, live_bins)
    extra = [name for name in excel.CONTAINMENT_LIST_FIELDS if info.field_index(name) >= 0] \
        if request.with_list else []
    id_index, type_index = info.field_index("id"), info.field_index("type_id")
    extra_indexes = [(name, info.field_index(name)) for name in extra]
    targets = measure.for_crs(info.crs)
    chosen = {}
    request_ = live_request(info, ["id", "type_id"] + extra)
    features = info.source.getFeatures(request_)
    if _near_only(info):
        wanted = sorted(key for key, bins in linked.items() if not bins.isdisjoint(zone_bins))
        features = _chain(_features_with_ids(info, request_, "id", wanted, progress),
                          _features_near(info, request_, targets.rects(), progress))
    for number, feature in enumerate(features):
        if number % 2000 == 0:
            progress.check()
        containment_id = feature.attribute(id_index)
        if containment_id in chosen:
            continue
        if not isinstance(containment_id, str):
            continue  # a containment without id cannot be reported
        bins = linked.get(containment_id)
        if bins:
            if bins.isdisjoint(zone_bins):
                continue
            choice = containment_rules.ContainmentChoice(containment_id, tuple(sorted(bins & zone_bins)), len(bins))
        else:
            geometry = feature.geometry()
            found = None if geometry.isEmpty() else targets.nearest(geometry)
            if found is None:
                continue
            choice = containment_rules.ContainmentChoice(containment_id, (), 0, found[1])
        chosen[containment_id] = ContainmentRecord(
            containment_id, plain(feature.attribute(type_index)), choice.bins, choice.served, choice.distance,
            feature.geometry(), {name: plain(feature.attribute(index)) for name, index in extra_indexes})
    return [chosen[key] for key in sorted(chosen)]


def _chain(*iterables):
    for iterable in iterables:
        yield from iterable


def _features_with_ids(info, request, field, values, progress, batch=2000):
    """Features whose `field` is one of `values` (batched IN filters, compiled to SQL by QGIS)."""
    for start in range(0, len(values), batch):
        progress.check()
        chunk = values[start:start + batch]
        by_id = QgsFeatureRequest(request)
        by_id.combineFilterExpression(f"{QgsExpression.quotedColumnRef(field)} IN ("
                                      + ",".join(QgsExpression.quotedValue(value) for value in chunk) + ")")
        yield from info.source.getFeatures(by_id)


def _owners(anchors):
    rows, _ = companion_rows(anchors, "owners", ("bin",) + excel.OWNER_FIELDS)
    return {row[0]: dict(zip(excel.OWNER_FIELDS, (plain(value) for value in row[1:]))) for row in rows or []}


def run(request, context, feedback, progress):
    request.buildings.require_fields(BUILDING_FIELDS)
    if request.containments is not None:
        request.containments.require_fields(CONTAINMENT_FIELDS)
    anchors = [request.buildings, request.containments, request.sources]
    progress.step("select", "Reading the source features (QGIS)…")
    found_lookups, where = _lookups(anchors)
    sources = _read_sources(request, context, progress)
    if not sources:
        raise AnalysisError(f"No live feature with a geometry in the {request.sources.role} "
                            f"'{request.sources.name}' matches the choice.")
    measure = _Measure(request, sources, context)
    feedback.pushInfo(f"Measuring in a local transverse Mercator centred on {measure.metric.longitude:.5f}, "
                      f"{measure.metric.latitude:.5f} (metres, scale-corrected).")
    link_rows = None
    if request.containments is not None:
        link_rows, _ = companion_rows(anchors, "build_contains", ("bin", "containment_id"))
    collect_bins = link_rows is not None and not request.buildings.selected_only
    live_bins = set() if collect_bins else None
    buildings, null_footprints, invalid = _read_buildings(request, measure, progress, live_bins)
    progress.step("read", f"{len(buildings)} buildings selected.")
    result = ZoneResult(buildings=sorted(buildings, key=lambda record: record.bin), containments=[],
                        sources=sources, lookups=found_lookups, zone=measure.zone, execution="QGIS",
                        data_source=_describe(request.buildings), null_footprints=sorted(null_footprints),
                        invalid_footprints=sorted(invalid))
    result.lookups.source = where[0] if where else result.data_source
    if request.containments is not None:
        if link_rows is None:
            result.links_found = False
            result.warnings.append("No build_contains table was found next to the layers: every containment was "
                                   "judged by its own point.")
            link_rows, live_bins = [], set()
        elif live_bins is None:
            live_bins = _all_live_bins(request.buildings, progress)
        zone_bins = {record.bin for record in buildings if record.in_zone}
        result.containments = _read_containments(request, measure, zone_bins, link_rows, live_bins, progress)
    if request.with_list:
        result.owners = _owners(anchors)
    return result


def _describe(info):
    if info.gpkg_path:
        return f"GeoPackage {info.gpkg_path}"
    return f"layer '{info.name}' ({info.provider})"
