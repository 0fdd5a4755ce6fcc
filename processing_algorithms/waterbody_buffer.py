"""imis:waterbodybuffer: buildings and containments near rivers and water bodies (issue 3)."""
import datetime

from qgis.core import (
    QgsFeature,
    QgsField,
    QgsFields,
    QgsProcessing,
    QgsProcessingOutputNumber,
    QgsProcessingOutputString,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterString,
    QgsWkbTypes,
)
from qgis.PyQt.QtCore import QVariant

from . import excel
from .base import ImisAnalysis, Progress, add_features, plugin_version
from .containments import pairs
from .errors import AnalysisError
from .inputs import describe
from .metric import WGS84
from .summary import BUILDING_HEADERS, CONTAINMENT_HEADERS, summarize_buildings, summarize_containments
from .zone import ZoneRequest, display_zone, normalized_kind, run_zone

HELP = """<p>Finds the buildings and containments (septic tanks, pits) within a distance of rivers and
other water bodies, counts them by structure type and by containment type as IMIS does, and can
write the IMIS Excel workbook.</p>
<h3>What counts</h3>
<ul>
<li><b>Buildings</b>: a building is in the zone when its footprint lies within <i>Distance</i>
metres of a chosen water body (true geodesic distance on the WGS84 ellipsoid, footprint to water
body; a building overlapping the water is at 0 m). Soft-deleted buildings and water bodies never
count.</li>
<li><b>Water bodies</b>: the non-deleted features of the water body layer (only the selected ones when
"Selected features only" is ticked: select one water body to get IMIS's "click a water body"
tool). <i>Water body types</i> keeps only the listed stored <code>type</code> values (e.g.
<code>River</code>; compared without case and surrounding spaces); empty means all types.</li>
<li><b>Containments</b>: a containment is in the zone when a live building link ties it to a
building in the zone; a containment without any live link counts when its own point is within the
distance. Each containment is counted once.</li>
<li><b>Summary</b> (IMIS "Buildings Sheet"): one row per structure type (names read from the
database or GeoPackage), buildings without a structure type in a blank row last, IMIS's ten
sanitation columns and a Total row. As in IMIS, only buildings whose sanitation system is shown
on the IMIS map (<code>map_display</code>) are counted; the log and the Parameters sheet say how
many buildings of the zone were left out and why. Shared Toilet buildings appear only in
"Buildings", as in IMIS.</li>
</ul>
<h3>Differences from IMIS</h3>
<ul>
<li>Exact distances: IMIS tests footprints against a buffer polygon whose round parts are
inscribed 32-gons, so it misses buildings in the last 0.5 % of the distance. Tick
<i>IMIS-compatible</i> (advanced) to reproduce IMIS's polygon exactly, e.g. to reconcile with an
IMIS report.</li>
<li>IMIS's "Building Close to Water Bodies" buffers twice (about twice the distance); this
algorithm buffers once. Any distance of 0 m or more is accepted, also with decimals.</li>
<li>Soft-deleted water bodies, buildings, links and containments are ignored everywhere (IMIS
forgets some of these filters). The workbook adds "Containments by Type" and "Parameters" sheets,
fills "Building Served" and writes Yes/No for true/false.</li>
</ul>
<h3>Where it runs</h3>
<p>When every input is a PostGIS layer of one IMIS database, the work runs in the database (one
read-only query; Cancel cancels it). Other sources (GeoPackage, shapefile, memory layers) are
processed in QGIS with a spatial index; both give the same answer.</p>
<p>Outputs: the buildings (BIN, structure type, sanitation system, distance in metres, nearest
water body), the containments, the zone polygon (for the map), the two summary tables and,
optionally, the workbook (sheets "Buildings Sheet", "Buildings List", "Containments by Type",
"Containment List", "Parameters").</p>"""

METHOD_EXACT = "exact geodesic distance (footprint to water body, WGS84 ellipsoid)"
METHOD_IMIS = ("IMIS-compatible: footprint intersects IMIS's buffer polygon "
               "ST_Buffer(union::geography, d) (32-segment circles; misses up to 0.5 % of d at the rim)")


class WaterbodyBufferAlgorithm(ImisAnalysis):
    WATERBODIES = "WATERBODIES"
    WATERBODY_TYPE = "WATERBODY_TYPE"
    BUILDINGS = "BUILDINGS"
    CONTAINMENTS = "CONTAINMENTS"
    DISTANCE = "DISTANCE"
    IMIS_COMPATIBLE = "IMIS_COMPATIBLE"
    OUTPUT_BUILDINGS = "OUTPUT_BUILDINGS"
    OUTPUT_CONTAINMENTS = "OUTPUT_CONTAINMENTS"
    OUTPUT_ZONE = "OUTPUT_ZONE"
    OUTPUT_SUMMARY = "OUTPUT_SUMMARY"
    OUTPUT_CONTAINMENT_SUMMARY = "OUTPUT_CONTAINMENT_SUMMARY"
    OUTPUT_XLSX = "OUTPUT_XLSX"

    HELP = HELP
    DISTANCE_PARAMETERS = {DISTANCE: "distance"}
    # What the sources are, for the outputs' fields and texts (imis:pointbuffer differs).
    SOURCE_FIELD_PREFIX = "waterbody"  # output fields waterbody_id, waterbody_name
    SOURCES_WORD = "water bodies"
    SOURCES_OUTPUT = "WATERBODIES_USED"  # number output: how many sources were used (None: not declared)
    NEAR = "water bodies"  # "Buildings near water bodies"
    ANALYSIS = "Buildings and containments near water bodies (imis:waterbodybuffer)"
    IGNORED_WHEN_DELETED = "water bodies, buildings, links and containments"
    METHOD_EXACT = METHOD_EXACT
    METHOD_IMIS = METHOD_IMIS

    def name(self):
        return "waterbodybuffer"

    def displayName(self):  # noqa: N802
        return "Buildings and containments near water bodies"

    def initAlgorithm(self, config=None):  # noqa: N802
        self.addParameter(QgsProcessingParameterFeatureSource(
            self.WATERBODIES, "Water bodies (rivers, ponds)",
            [QgsProcessing.TypeVectorPolygon, QgsProcessing.TypeVectorLine]))
        self.addParameter(QgsProcessingParameterString(
            self.WATERBODY_TYPE, "Water body types (stored type values, comma-separated; empty = all)",
            defaultValue="", optional=True))
        self._add_zone_parameters()

    def _add_zone_parameters(self):
        """Buildings, containments, distance and the outputs (after the source parameters)."""
        near = self.NEAR
        self.addParameter(QgsProcessingParameterFeatureSource(
            self.BUILDINGS, "Buildings", [QgsProcessing.TypeVectorPolygon]))
        self.addParameter(QgsProcessingParameterFeatureSource(
            self.CONTAINMENTS, "Containments (optional)", [QgsProcessing.TypeVectorPoint], optional=True))
        self.addParameter(self.distance_parameter(self.DISTANCE, "Distance (metres)", 100.0))
        imis = QgsProcessingParameterBoolean(self.IMIS_COMPATIBLE, "IMIS-compatible buffer (reproduce IMIS's numbers)",
                                             defaultValue=False)
        imis.setFlags(imis.flags() | imis.FlagAdvanced)
        self.addParameter(imis)
        self.addParameter(QgsProcessingParameterFeatureSink(
            self.OUTPUT_BUILDINGS, f"Buildings near {near}", QgsProcessing.TypeVectorPolygon))
        self.addParameter(QgsProcessingParameterFeatureSink(
            self.OUTPUT_CONTAINMENTS, f"Containments near {near}", QgsProcessing.TypeVectorPoint,
            optional=True, createByDefault=True))
        self.addParameter(QgsProcessingParameterFeatureSink(
            self.OUTPUT_ZONE, f"Zone near {near}", QgsProcessing.TypeVectorPolygon, optional=True,
            createByDefault=True))
        self.addParameter(QgsProcessingParameterFeatureSink(
            self.OUTPUT_SUMMARY, "Summary by structure type", QgsProcessing.TypeVector))
        self.addParameter(QgsProcessingParameterFeatureSink(
            self.OUTPUT_CONTAINMENT_SUMMARY, "Containments by type", QgsProcessing.TypeVector, optional=True,
            createByDefault=True))
        self.addParameter(QgsProcessingParameterFileDestination(
            self.OUTPUT_XLSX, "Excel workbook (IMIS sheets)", "Excel workbook (*.xlsx)", optional=True,
            createByDefault=False))
        numbers = [("BUILDINGS_IN_ZONE", "Buildings in the zone"),
                   ("BUILDINGS_COUNTED", "Buildings counted in the summary"),
                   ("BUILDINGS_LEFT_OUT", "Buildings of the zone left out of the summary"),
                   ("CONTAINMENTS_IN_ZONE", "Containments in the zone")]
        if self.SOURCES_OUTPUT:
            numbers.append((self.SOURCES_OUTPUT, self.SOURCES_WORD.capitalize() + " used"))
        for name, description in numbers:
            self.addOutput(QgsProcessingOutputNumber(name, description))
        self.addOutput(QgsProcessingOutputString("EXECUTION", "Where the analysis ran (PostGIS or QGIS)"))

    # -- main thread ----------------------------------------------------------------------
    def prepare(self, parameters, context, feedback):
        waterbodies = describe(self, parameters, self.WATERBODIES, context, "water body layer")
        if waterbodies is None:
            raise AnalysisError("Choose a water body layer.")
        waterbodies.require_geometry((QgsWkbTypes.PolygonGeometry, QgsWkbTypes.LineGeometry))
        buildings, containments = self._describe_targets(parameters, context)
        distance = self.parameterAsDouble(parameters, self.DISTANCE, context)
        imis = self.parameterAsBoolean(parameters, self.IMIS_COMPATIBLE, context)
        if imis and distance == 0 and waterbodies.geometry_type == QgsWkbTypes.LineGeometry:
            raise AnalysisError("IMIS's buffer of a line at 0 m is empty (no building could qualify). Give a "
                                "distance above 0 m, or turn off IMIS-compatible mode to get the buildings "
                                "touching the lines.")
        kinds = self._kinds(parameters, waterbodies,
                            self.parameterAsVectorLayer(parameters, self.WATERBODIES, context))
        key = "id" if waterbodies.field_index("id") >= 0 else (
            waterbodies.postgis.key_column if waterbodies.postgis else None)
        self._request = ZoneRequest(
            sources=waterbodies, buildings=buildings, containments=containments, distance=distance,
            source_key=key, source_name="name" if waterbodies.field_index("name") >= 0 else None,
            source_kind="type" if waterbodies.field_index("type") >= 0 else None, kinds=kinds,
            imis_compatible=imis, with_list=bool(self.parameterAsFileOutput(parameters, self.OUTPUT_XLSX, context)))
        self._types_text = ", ".join(self._requested_types(parameters)) or "all"

    def _describe_targets(self, parameters, context):
        """(buildings, containments or None) as InputLayers, checked."""
        buildings = describe(self, parameters, self.BUILDINGS, context, "buildings layer")
        if buildings is None:
            raise AnalysisError("Choose a buildings layer.")
        buildings.require_geometry((QgsWkbTypes.PolygonGeometry,))
        buildings.require_fields(("bin", "structure_type_id", "sanitation_system_id"),
                                 "the IMIS summary needs them")
        containments = describe(self, parameters, self.CONTAINMENTS, context, "containment layer")
        if containments is not None:
            containments.require_geometry((QgsWkbTypes.PointGeometry,))
            containments.require_fields(("id", "type_id"))
        return buildings, containments

    @staticmethod
    def _requested_types(parameters):
        value = parameters.get(WaterbodyBufferAlgorithm.WATERBODY_TYPE)
        if value is None:
            return []
        items = value if isinstance(value, (list, tuple)) else str(value).split(",")
        return [str(item).strip() for item in items if str(item).strip()]

    def _kinds(self, parameters, waterbodies, layer):
        requested = self._requested_types(parameters)
        if not requested:
            return None
        index = waterbodies.field_index("type")
        if index < 0:
            raise AnalysisError(f"The water body layer '{waterbodies.name}' has no field 'type', so it cannot be "
                                f"filtered by type ({', '.join(requested)}). Leave the types empty to use all.")
        stored = sorted({str(value).strip() for value in layer.uniqueValues(index)
                         if value is not None and not (hasattr(value, "isNull") and value.isNull())})
        known = {normalized_kind(value) for value in stored}
        unknown = [value for value in requested if normalized_kind(value) not in known]
        # No stored value at all: the layer could not be read now (e.g. its database is down);
        # the run itself will say what is wrong.
        if unknown and stored:
            raise AnalysisError(f"No water body of type {', '.join(repr(v) for v in unknown)} in the layer "
                                f"'{waterbodies.name}'. Stored types: {', '.join(stored) or 'none'}.")
        return tuple(sorted({normalized_kind(value) for value in requested}))

    # -- worker thread --------------------------------------------------------------------
    def process(self, parameters, context, feedback):
        request = self._request
        xlsx = self.parameterAsFileOutput(parameters, self.OUTPUT_XLSX, context)
        progress = Progress(feedback, {"select": 60, "read": 5, "outputs": 15, "workbook": 20 if xlsx else 0})
        result = run_zone(request, context, feedback, progress)
        if not result.sources:
            raise AnalysisError(self._no_sources_message(request))
        in_zone = [record for record in result.buildings if record.in_zone]
        summary = summarize_buildings(((r.structure_type_id, r.sanitation_system_id) for r in in_zone),
                                      result.lookups.structure_types, result.lookups.sanitation_systems)
        containment_summary = summarize_containments((record.type_id for record in result.containments),
                                                     result.lookups.containment_types)
        self._report(feedback, request, result, summary)

        progress.step("outputs", "Writing the outputs…")
        outputs = {}
        outputs.update(self._write_buildings(parameters, context, feedback, result, in_zone))
        outputs.update(self._write_containments(parameters, context, feedback, result))
        outputs.update(self._write_zone(parameters, context, result))
        outputs.update(self._write_table(parameters, self.OUTPUT_SUMMARY, context, summary.table()))
        outputs.update(self._write_table(parameters, self.OUTPUT_CONTAINMENT_SUMMARY, context,
                                         containment_summary.table()))
        if xlsx:
            progress.step("workbook", "Writing the Excel workbook…")
            if not excel.openpyxl_available():
                feedback.reportError(excel.OPENPYXL_MISSING)
            else:
                sheets = self._sheets(request, result, summary, containment_summary, in_zone)
                if not excel.write_workbook(xlsx, sheets, feedback):
                    progress.check()
                outputs[self.OUTPUT_XLSX] = xlsx
        progress.check()
        feedback.setProgress(100)
        outputs.update({
            "BUILDINGS_IN_ZONE": len(in_zone), "BUILDINGS_COUNTED": summary.counted,
            "BUILDINGS_LEFT_OUT": summary.left_out_count, "CONTAINMENTS_IN_ZONE": len(result.containments),
            "EXECUTION": result.execution,
        })
        if self.SOURCES_OUTPUT:
            outputs[self.SOURCES_OUTPUT] = len(result.sources)
        return outputs

    def _sources_text(self, result):
        return f"{len(result.sources)} {self.SOURCES_WORD} used"

    def _method(self, request):
        return self.METHOD_IMIS if request.imis_compatible else self.METHOD_EXACT

    def _no_sources_message(self, request):
        return (f"No live water body with a geometry in '{request.sources.name}' matches the choice "
                f"(types: {self._types_text}).")

    def _report(self, feedback, request, result, summary):
        feedback.pushInfo(f"Ran in {result.execution}; {self._sources_text(result)}; "
                          f"distance {request.distance:g} m ({self._method(request)}).")
        for line in summary.explanation():
            feedback.pushInfo(line)
        feedback.pushInfo(f"{len(result.containments)} containments in the zone.")
        if result.null_footprints:
            feedback.reportError(f"{len(result.null_footprints)} live buildings have no footprint and were left out: "
                                 f"{_first(result.null_footprints)}.", False)
        if result.invalid_footprints:
            feedback.reportError(f"{len(result.invalid_footprints)} buildings in the zone have an invalid footprint "
                                 f"(measured as drawn; please fix): {_first(result.invalid_footprints)}.", False)
        for warning in result.warnings + result.lookups.missing_messages():
            feedback.reportError(warning, False)

    def _write_buildings(self, parameters, context, feedback, result, in_zone):
        key_type = QVariant.LongLong if all(isinstance(s.key, int) for s in result.sources) else QVariant.String
        fields = QgsFields()
        for name, kind in (("bin", QVariant.String), ("structure_type", QVariant.String),
                           ("sanitation_system", QVariant.String), ("in_summary", QVariant.Bool),
                           ("distance_m", QVariant.Double), (self.SOURCE_FIELD_PREFIX + "_id", key_type),
                           (self.SOURCE_FIELD_PREFIX + "_name", QVariant.String)):
            fields.append(QgsField(name, kind))
        crs = self._request.buildings.crs  # the PostGIS path runs only on EPSG:4326 layers: same CRS
        sink, destination = self.sink(parameters, self.OUTPUT_BUILDINGS, context, fields,
                                      QgsWkbTypes.MultiPolygon, crs)
        lookups = result.lookups
        labels = lookups.sanitation_labels
        names = {source.key: source.name for source in result.sources}

        def features():
            for record in in_zone:
                feature = QgsFeature(fields)
                if record.geometry is not None:
                    record.geometry.convertToMultiType()
                    feature.setGeometry(record.geometry)
                shown = lookups.sanitation_systems.get(record.sanitation_system_id, (None, None))[1] is True
                feature.setAttributes([
                    record.bin, lookups.structure_types.get(record.structure_type_id),
                    labels.get(record.sanitation_system_id), shown,
                    None if record.distance is None else round(record.distance, 3),
                    record.source_key, names.get(record.source_key)])
                yield feature

        add_features(sink, features(), feedback)
        return {self.OUTPUT_BUILDINGS: destination}

    def _write_containments(self, parameters, context, feedback, result):
        fields = QgsFields()
        for name, kind in (("id", QVariant.String), ("containment_type", QVariant.String), ("bin", QVariant.String),
                           ("buildings_served", QVariant.Int), ("chosen_by", QVariant.String),
                           ("distance_m", QVariant.Double)):
            fields.append(QgsField(name, kind))
        info = self._request.containments
        crs = info.crs if info is not None else WGS84
        sink, destination = self.sink(parameters, self.OUTPUT_CONTAINMENTS, context, fields, QgsWkbTypes.Point, crs)
        if sink is None:
            return {}
        types = result.lookups.containment_types

        def features():
            for record in result.containments:
                feature = QgsFeature(fields)
                if record.geometry is not None:
                    feature.setGeometry(record.geometry)
                feature.setAttributes([
                    record.id, types.get(record.type_id), ", ".join(record.bins) or None, record.served,
                    record.chosen_by, None if record.distance is None else round(record.distance, 3)])
                yield feature

        add_features(sink, features(), feedback)
        return {self.OUTPUT_CONTAINMENTS: destination}

    def _write_zone(self, parameters, context, result):
        fields = QgsFields()
        extra = self._zone_columns(result)
        for name, kind in [("distance_m", QVariant.Double), ("method", QVariant.String)] + \
                [(name, kind) for name, kind, _ in extra]:
            fields.append(QgsField(name, kind))
        sink, destination = self.sink(parameters, self.OUTPUT_ZONE, context, fields, QgsWkbTypes.MultiPolygon, WGS84)
        if sink is None:
            return {}
        request = self._request
        zone = result.zone if request.imis_compatible else display_zone(
            [source.geometry for source in result.sources], request.distance)
        if zone is not None and not zone.isEmpty():
            zone.convertToMultiType()
            feature = QgsFeature(fields)
            feature.setGeometry(zone)
            feature.setAttributes([request.distance, "IMIS-compatible buffer" if request.imis_compatible
                                   else "exact distance (zone drawn for display)"] + [value for _, _, value in extra])
            sink.addFeature(feature)
        return {self.OUTPUT_ZONE: destination}

    def _zone_columns(self, result):
        """Zone fields after distance_m and method: (name, QVariant type, value). The council map
        reads them for its title and parameter line."""
        kinds = self._types_text if self._request.kinds else None  # the types asked for (the map title uses them)
        return [("waterbodies", QVariant.Int, len(result.sources)), ("waterbody_types", QVariant.String, kinds)]

    def _write_table(self, parameters, name, context, table):
        headers, rows = table[0], table[1:]
        fields = QgsFields()
        for index, header in enumerate(headers):
            fields.append(QgsField(header, QVariant.String if index == 0 else QVariant.Int))
        sink, destination = self.sink(parameters, name, context, fields, QgsWkbTypes.NoGeometry, WGS84)
        if sink is None:
            return {}
        for row in rows:
            feature = QgsFeature(fields)
            feature.setAttributes(row)
            sink.addFeature(feature)
        return {name: destination}

    def _sheets(self, request, result, summary, containment_summary, in_zone):
        containment_ids = {}
        for record in result.containments:
            for bin_ in record.bins:
                containment_ids.setdefault(bin_, []).append(record.id)
        return [
            excel.Sheet(excel.BUILDINGS_SHEET, BUILDING_HEADERS, summary.table()[1:]),
            excel.Sheet(excel.BUILDINGS_LIST, [h for h, _ in excel.BUILDINGS_LIST_COLUMNS],
                        excel.buildings_list_rows(in_zone, containment_ids, result.lookups, result.owners)),
            excel.Sheet(excel.CONTAINMENTS_BY_TYPE, CONTAINMENT_HEADERS, containment_summary.table()[1:]),
            excel.Sheet(excel.CONTAINMENT_LIST, [h for h, _ in excel.CONTAINMENT_LIST_COLUMNS],
                        excel.containment_list_rows(pairs(result.containments), result.lookups)),
            excel.parameters_sheet(self._parameter_rows(request, result, summary)),
        ]

    def _source_rows(self, request, result):
        """Rows of the Parameters sheet that describe the sources."""
        sources = sorted(result.sources, key=lambda source: (str(type(source.key)), source.key))
        listed = "; ".join(f"{s.key} {s.name or ''} ({s.kind or 'no type'})".replace("  ", " ") for s in sources[:100])
        if len(sources) > 100:
            listed += f"; … and {len(sources) - 100} more"
        return [
            ("Water body layer", request.sources.name + (" (selected features only)" if request.sources.selected_only
                                                         else "")),
            ("Water body types", self._types_text),
            ("Water bodies used", len(result.sources)),
            ("Water bodies (id name (type))", listed),
        ]

    def _parameter_rows(self, request, result, summary):
        linked = sum(1 for record in result.containments if record.bins)
        rows = [
            ("Analysis", self.ANALYSIS),
            ("Data source", result.data_source),
            ("Ran in", result.execution),
        ] + self._source_rows(request, result) + [
            ("Distance (m)", request.distance),
            ("Method", self._method(request)),
            ("Buildings layer", request.buildings.name + (" (selected features only)" if request.buildings.selected_only
                                                          else "")),
            ("Containment layer", request.containments.name if request.containments is not None else "none"),
            ("Buildings in the zone", len([r for r in result.buildings if r.in_zone])),
            ("Buildings counted in the summary", summary.counted),
            ("Buildings left out of the summary", summary.left_out_count),
        ]
        rows += [("Left out: " + reason, count) for reason, count in summary.left_out]
        rows += [("Note", note) for note in summary.notes]
        rows += [
            ("Buildings without footprint (left out)", len(result.null_footprints)),
            ("Containments in the zone", len(result.containments)),
            ("  through a live link to a building in the zone", linked),
            ("  unlinked, by their own point", len(result.containments) - linked),
            ("Rules", f"Soft-deleted {self.IGNORED_WHEN_DELETED} are ignored. The summary counts "
                      "buildings whose sanitation system has map_display true (as IMIS)."),
            ("Lookup labels read from", result.lookups.source or result.data_source),
            ("Date", datetime.datetime.now().replace(microsecond=0).isoformat(sep=" ")),
            ("Plugin version", plugin_version()),
        ]
        return rows


def _first(values, limit=10):
    shown = ", ".join(str(value) for value in values[:limit])
    return shown + (f" and {len(values) - limit} more" if len(values) > limit else "")
