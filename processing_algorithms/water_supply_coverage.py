"""imis:watersupplycoverage: water supply coverage and connection status (issue 5).

Not an IMIS analysis: IMIS v1.0.0 has no water supply coverage tool (ANALYSES.md 7.14).
"""
import datetime

from qgis.core import (
    QgsFeature,
    QgsFeatureSink,
    QgsField,
    QgsFields,
    QgsGeometry,
    QgsProcessing,
    QgsProcessingOutputNumber,
    QgsProcessingOutputString,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterFileDestination,
    QgsProviderRegistry,
    QgsVectorLayer,
    QgsVectorLayerFeatureSource,
    QgsWkbTypes,
)
from qgis.PyQt.QtCore import QVariant

from . import excel
from . import water_coverage as rules
from .base import ImisAnalysis, Progress, add_features, plugin_version
from .errors import AnalysisError
from .inputs import _layer_and_selection, describe
from .metric import WGS84
from .water_supply import CoverageRequest, run_coverage
from .water_supply_postgis import PIPE_KEY, POPULATION_FIELD, RECORDED_FIELD, SOURCE_FIELD
from .water_supply_styles import buildings_renderer, style_on_load, wards_renderer
from .wards import WARD_FIELD, read_wards, ward_keys

HELP = """<p><b>Not an IMIS analysis.</b> IMIS has no water supply coverage tool (its dashboards
only count, per recorded ward, the buildings that have a pipe code). Its numbers therefore
cannot be compared with an IMIS report.</p>
<p>Answers two questions per building and per ward: which buildings are connected to the piped
water supply, and which could be (a pipe runs within reach) but are not.</p>
<h3>What counts</h3>
<ul>
<li><b>Connected</b>: the building's main drinking water source is the municipal/public supply
(every water source whose name contains "municipal", read from the <code>water_sources</code>
table of the same database or GeoPackage) or it has a water supply pipe code.</li>
<li><b>Within reach</b>: a live pipe lies within <i>Reach</i> metres of the footprint (how far a
service connection can run; true distance on the WGS84 ellipsoid, as in the other analyses;
a footprint touching a pipe is at 0 m). The nearest such pipe is reported.</li>
<li><b>Status classes</b>: <i>connected, pipe within reach</i>; <i>connected, no pipe within
reach</i> (a data or network problem worth checking); <i>not connected, pipe within reach</i>
(potential customers); <i>not connected, out of reach</i> (where the network must grow).</li>
<li><b>Pipe code checks</b>: a recorded pipe code is flagged as <i>missing pipe</i> (no pipe has
that code), <i>deleted pipe</i> (the pipe is soft-deleted) or <i>pipe farther than the
distance</i>. Codes are looked up in the whole pipe table, whatever the layer's filter or
selection.</li>
<li><b>Wards</b>: a building belongs to the ward whose polygon contains its footprint centroid
(not the surveyed ward number). Wards without buildings show zeros; buildings outside every
ward are counted in their own row.</li>
<li>Soft-deleted buildings, pipes and wards never count. Buildings without a footprint are left
out and listed in the log. A town without any live pipe gives every building "no pipe within
reach" and says so.</li>
</ul>
<h3>Where it runs</h3>
<p>When the pipes, buildings and wards are PostGIS layers of one IMIS database, the work runs in
the database (one read-only query; Cancel cancels it). Other sources (GeoPackage, shapefile,
memory layers) are processed in QGIS with a spatial index; both give the same answer.</p>
<p>Outputs: every live building with its status (style it by <code>status</code>), the wards with
counts, population and percentages per status class (style <code>coverage_pct</code> or a
<code>pct_</code> field as a choropleth), a summary table per ward with a city total and,
optionally, an Excel workbook ("Coverage by Ward", "Building Status", "Pipe Code Checks",
"Parameters").</p>"""

METHOD = ("distance from the footprint to the nearest live pipe, in metres on the WGS84 ellipsoid "
          "(transverse Mercator corrected by its scale factor)")
NOT_IMIS = "Not an IMIS analysis: IMIS has no water supply coverage tool."

BUILDING_COLUMNS = (
    # (layer field, workbook header, type)
    ("bin", "BIN", QVariant.String),
    ("ward", "Ward (by location)", None),  # type of the ward layer's field
    ("status", "Status", QVariant.String),
    ("connected", "Connected", QVariant.Bool),
    ("water_source", "Main Drinking Water Source", QVariant.String),
    ("pipe_code", "Water Supply Pipe Line Code", QVariant.String),
    ("pipe_code_flag", "Pipe Code Check", QVariant.String),
    ("nearest_pipe", "Nearest Pipe Code", QVariant.String),
    ("distance_m", "Distance to Nearest Pipe (m)", QVariant.Double),
    ("recorded_pipe_distance_m", "Distance to Recorded Pipe (m)", QVariant.Double),
    ("population", "Population of Building", QVariant.Int),
)
COVERAGE_SHEET = "Coverage by Ward"
BUILDING_SHEET = "Building Status"
CHECKS_SHEET = "Pipe Code Checks"


def _whole_table_source(layer):
    """A feature source of the layer's whole table, without its filter (main thread only)."""
    if layer is None or not layer.subsetString() or layer.providerType() not in ("postgres", "ogr"):
        return None
    provider = layer.providerType()
    registry = QgsProviderRegistry.instance()
    parts = registry.decodeUri(provider, layer.source())
    parts.pop("subset", None)  # ogr: the filter is part of the URI
    if provider == "postgres":
        parts["sql"] = ""
    # A new layer on the unfiltered URI (setSubsetString on a second layer of one GeoPackage can
    # leave SQLite unable to open the file in QGIS 3.22).
    clone = QgsVectorLayer(registry.encodeUri(provider, parts), layer.name(), provider)
    return QgsVectorLayerFeatureSource(clone) if clone.isValid() else None


class WaterSupplyCoverageAlgorithm(ImisAnalysis):
    PIPES = "PIPES"
    BUILDINGS = "BUILDINGS"
    WARDS = "WARDS"
    DISTANCE = "DISTANCE"
    OUTPUT_BUILDINGS = "OUTPUT_BUILDINGS"
    OUTPUT_WARDS = "OUTPUT_WARDS"
    OUTPUT_SUMMARY = "OUTPUT_SUMMARY"
    OUTPUT_XLSX = "OUTPUT_XLSX"

    HELP = HELP
    DISTANCE_PARAMETERS = {DISTANCE: "distance"}

    def name(self):
        return "watersupplycoverage"

    def displayName(self):  # noqa: N802
        return "Water supply coverage (not an IMIS analysis)"

    def initAlgorithm(self, config=None):  # noqa: N802
        self.addParameter(QgsProcessingParameterFeatureSource(
            self.PIPES, "Water supply pipes", [QgsProcessing.TypeVectorLine]))
        self.addParameter(QgsProcessingParameterFeatureSource(
            self.BUILDINGS, "Buildings", [QgsProcessing.TypeVectorPolygon]))
        self.addParameter(QgsProcessingParameterFeatureSource(
            self.WARDS, "Wards (optional)", [QgsProcessing.TypeVectorPolygon], optional=True))
        self.addParameter(self.distance_parameter(self.DISTANCE, "Reach of a service connection (metres)", 50.0))
        self.addParameter(QgsProcessingParameterFeatureSink(
            self.OUTPUT_BUILDINGS, "Buildings by water supply status", QgsProcessing.TypeVectorPolygon))
        self.addParameter(QgsProcessingParameterFeatureSink(
            self.OUTPUT_WARDS, "Water supply coverage by ward", QgsProcessing.TypeVectorPolygon, optional=True,
            createByDefault=True))
        self.addParameter(QgsProcessingParameterFeatureSink(
            self.OUTPUT_SUMMARY, "Water supply coverage summary", QgsProcessing.TypeVector))
        self.addParameter(QgsProcessingParameterFileDestination(
            self.OUTPUT_XLSX, "Excel workbook", "Excel workbook (*.xlsx)", optional=True, createByDefault=False))
        for name, description in (("BUILDINGS_CLASSIFIED", "Buildings classified"),
                                  ("CONNECTED", "Connected, pipe within reach"),
                                  ("CONNECTED_NO_PIPE", "Connected, no pipe within reach"),
                                  ("POTENTIAL", "Not connected, pipe within reach"),
                                  ("OUT_OF_REACH", "Not connected, out of reach"),
                                  ("OUTSIDE_WARDS", "Buildings outside every ward"),
                                  ("PIPE_CODE_FLAGS", "Buildings with a flagged pipe code"),
                                  ("PIPES_USED", "Live pipes used")):
            self.addOutput(QgsProcessingOutputNumber(name, description))
        self.addOutput(QgsProcessingOutputString("EXECUTION", "Where the analysis ran (PostGIS or QGIS)"))

    # -- main thread ----------------------------------------------------------------------
    def prepare(self, parameters, context, feedback):
        pipes = describe(self, parameters, self.PIPES, context, "water supply pipe layer")
        if pipes is None:
            raise AnalysisError("Choose a water supply pipe layer (IMIS utility_info.water_supplys).")
        pipes.require_geometry((QgsWkbTypes.LineGeometry,))
        pipes.require_fields((PIPE_KEY,), "the pipe code")
        buildings = describe(self, parameters, self.BUILDINGS, context, "buildings layer")
        if buildings is None:
            raise AnalysisError("Choose a buildings layer.")
        buildings.require_geometry((QgsWkbTypes.PolygonGeometry,))
        buildings.require_fields(("bin", SOURCE_FIELD, RECORDED_FIELD), "the water source and pipe code")
        wards = describe(self, parameters, self.WARDS, context, "ward layer")
        if wards is not None:
            wards.require_geometry((QgsWkbTypes.PolygonGeometry,))
            wards.require_fields((WARD_FIELD,), "the ward number")
        self._request = CoverageRequest(
            pipes=pipes, buildings=buildings, wards=wards,
            distance=self.parameterAsDouble(parameters, self.DISTANCE, context),
            all_pipes=_whole_table_source(_layer_and_selection(self, parameters, self.PIPES, context)[0]))
        ward_field = None
        if wards is not None:
            ward_field = QgsField(wards.fields.at(wards.field_index(WARD_FIELD)))
            ward_field.setName("ward")
        self._ward_field = ward_field

    # -- worker thread --------------------------------------------------------------------
    def process(self, parameters, context, feedback):
        request = self._request
        xlsx = self.parameterAsFileOutput(parameters, self.OUTPUT_XLSX, context)
        progress = Progress(feedback, {"select": 50, "read": 10, "outputs": 25, "workbook": 15 if xlsx else 0})
        wards = read_wards(request.wards, progress) if request.wards is not None else []
        keys, repeated = ward_keys(wards)
        fields = self._building_fields()
        footprints = []
        data = run_coverage(request, context, feedback, progress,
                            on_rows=lambda rows: footprints.extend(self._features(rows, fields, progress)))
        municipal = rules.municipal_source_ids(data.water_sources)
        tallies = rules.Tallies(keys, wards_given=request.wards is not None)

        progress.step("outputs", "Classifying the buildings and writing the outputs…")
        outputs, listed = self._write_buildings(parameters, context, feedback, progress, data, municipal, tallies,
                                                fields, footprints, keep=bool(xlsx))
        coverage = tallies.coverage()
        self._report(feedback, request, data, municipal, coverage, repeated)
        outputs.update(self._write_wards(parameters, context, feedback, wards, coverage))
        outputs.update(self._write_summary(parameters, context, coverage))
        if xlsx:
            progress.step("workbook", "Writing the Excel workbook…")
            if not excel.openpyxl_available():
                feedback.reportError(excel.OPENPYXL_MISSING)
            else:
                if not excel.write_workbook(xlsx, self._sheets(request, data, municipal, coverage, listed), feedback):
                    progress.check()
                outputs[self.OUTPUT_XLSX] = xlsx
        progress.check()
        feedback.setProgress(100)
        total = coverage.total
        outputs.update({
            "BUILDINGS_CLASSIFIED": total.buildings, "CONNECTED": total.counts[rules.CONNECTED],
            "CONNECTED_NO_PIPE": total.counts[rules.CONNECTED_NO_PIPE], "POTENTIAL": total.counts[rules.POTENTIAL],
            "OUT_OF_REACH": total.counts[rules.OUT_OF_REACH],
            "OUTSIDE_WARDS": coverage.outside.buildings if request.wards is not None else 0,
            "PIPE_CODE_FLAGS": total.flagged, "PIPES_USED": data.pipes_used, "EXECUTION": data.execution,
        })
        return outputs

    def _report(self, feedback, request, data, municipal, coverage, repeated):
        feedback.pushInfo(NOT_IMIS)
        feedback.pushInfo(f"Ran in {data.execution}; {data.pipes_used} live pipes; reach {request.distance:g} m.")
        if data.pipes_used == 0:
            feedback.reportError(f"The pipe layer '{request.pipes.name}' has no live pipe with a geometry"
                                 + (" among the selected features" if request.pipes.selected_only else "")
                                 + ": every building is out of reach of the piped supply.", False)
        labels = [str(data.water_sources[key]) for key in sorted(municipal, key=str)]
        if labels:
            feedback.pushInfo(f"Municipal supply (main water source): {', '.join(labels)}.")
        else:
            feedback.reportError("No water source in the water_sources table has \"municipal\" in its name"
                                 + (" (the table was not found)" if "water_sources" in data.missing_lookups else "")
                                 + ": buildings count as connected only when they have a pipe code.", False)
        total = coverage.total
        feedback.pushInfo(f"{total.buildings} buildings classified:")
        for key, label in rules.STATUS_CLASSES:
            feedback.pushInfo(f"  {label}: {total.counts[key]} ({rules.percent(total.counts[key], total.buildings)} %)")
        for flag in rules.FLAGS:
            if total.flags[flag]:
                feedback.pushInfo(f"Pipe code check, {flag}: {total.flags[flag]} buildings.")
        if request.wards is not None:
            feedback.pushInfo(f"{len(coverage.wards)} wards; {coverage.outside.buildings} buildings lie outside every "
                              "ward (footprint centroid in no ward polygon).")
        if repeated:
            feedback.reportError(repeated, False)
        if data.null_footprints:
            feedback.reportError(f"{len(data.null_footprints)} live buildings have no footprint and were left out: "
                                 f"{_first(data.null_footprints)}.", False)
        if total.population_missing:
            feedback.pushInfo(f"{total.population_missing} buildings have no population recorded (counted as 0).")

    def _building_fields(self):
        fields = QgsFields()
        for name, _, kind in BUILDING_COLUMNS:
            if name == "ward":
                fields.append(QgsField(self._ward_field) if self._ward_field is not None
                              else QgsField("ward", QVariant.String))
            else:
                fields.append(QgsField(name, kind))
        return fields

    @staticmethod
    def _features(rows, fields, progress):
        """A feature with its footprint for each building row (attributes follow).

        Runs as soon as the footprints are read: in PostGIS, while the database still measures.
        """
        for number, row in enumerate(rows):
            if number % 5000 == 0:
                progress.check()
            shape = row[rules.FOOTPRINT]
            if isinstance(shape, QgsGeometry):
                geometry = shape
                geometry.convertToMultiType()
            else:  # WKB, already multi-polygon (ST_Multi)
                geometry = QgsGeometry()
                geometry.fromWkb(shape.tobytes())
            feature = QgsFeature(fields)
            feature.setGeometry(geometry)
            yield feature

    def _write_buildings(self, parameters, context, feedback, progress, data, municipal, tallies, fields, footprints,
                         keep):
        """Classify every building, count it in its ward and write it: one pass over the rows.

        footprints: the features of the rows, in the same order. Returns the outputs and, when
        `keep`, the attribute rows (for the workbook).
        """
        sink, destination = self.sink(parameters, self.OUTPUT_BUILDINGS, context, fields, QgsWkbTypes.MultiPolygon,
                                      self._request.buildings.crs)
        sources, labels, limit = data.water_sources, rules.STATUS_LABELS, self._request.distance
        classify, tally, nearest_of, ward_of = rules.classify, tallies.tally, data.nearest.get, data.wards.get
        listed = [] if keep else None
        batch, total, none = [], len(data.rows), (None, None)
        for number, ((bin_, _, source, recorded, population, state, recorded_distance), feature) in enumerate(
                zip(data.rows, footprints)):
            nearest, distance = nearest_of(bin_, none)
            ward = ward_of(bin_)
            connected, status, flag, recorded_distance = classify(source, recorded, nearest, distance, state,
                                                                  recorded_distance, municipal, limit)
            tally(ward).add(status, population, flag)
            attributes = [bin_, ward, labels[status], connected, sources.get(source), recorded, flag, nearest,
                          None if distance is None else round(distance, 3),
                          None if recorded_distance is None else round(recorded_distance, 3), population]
            if listed is not None:
                listed.append(attributes)
            feature.setAttributes(attributes)
            batch.append(feature)
            if len(batch) == 5000:
                progress.part(number, total)
                sink.addFeatures(batch, QgsFeatureSink.FastInsert)
                batch = []
        add_features(sink, batch, feedback)
        style_on_load(context, destination, buildings_renderer)
        return {self.OUTPUT_BUILDINGS: destination}, listed

    def _ward_fields(self):
        fields = QgsFields()
        fields.append(QgsField(self._ward_field) if self._ward_field is not None else QgsField("ward", QVariant.Int))
        fields.append(QgsField("name", QVariant.String))
        fields.append(QgsField("buildings", QVariant.Int))
        fields.append(QgsField("population", QVariant.Int))
        for key in rules.STATUS_KEYS:
            fields.append(QgsField(f"n_{key}", QVariant.Int))
        for key in rules.STATUS_KEYS:
            fields.append(QgsField(f"pct_{key}", QVariant.Double))
        for key in rules.STATUS_KEYS:
            fields.append(QgsField(f"pop_{key}", QVariant.Int))
        fields.append(QgsField("coverage_pct", QVariant.Double))
        fields.append(QgsField("pipe_code_flags", QVariant.Int))
        return fields

    @staticmethod
    def _ward_attributes(item):
        percentages = item.percentages()
        return ([item.ward, item.label, item.buildings, item.population]
                + [item.counts[key] for key in rules.STATUS_KEYS]
                + [percentages[key] for key in rules.STATUS_KEYS]
                + [item.populations[key] for key in rules.STATUS_KEYS]
                + [rules.percent(item.connected, item.buildings), item.flagged])

    def _write_wards(self, parameters, context, feedback, wards, coverage):
        if self._request.wards is None:
            if parameters.get(self.OUTPUT_WARDS) not in (None, ""):
                feedback.pushInfo("No ward layer was given: the ward output is not written.")
            return {}
        fields = self._ward_fields()
        sink, destination = self.sink(parameters, self.OUTPUT_WARDS, context, fields, QgsWkbTypes.MultiPolygon,
                                      self._request.wards.crs)
        if sink is None:
            return {}
        shapes = {}
        for key, geometry in wards:
            if geometry is not None:
                shapes.setdefault(key, []).append(geometry)
        features = []
        for item in coverage.wards:
            feature = QgsFeature(fields)
            parts = shapes.get(item.ward)
            if parts:
                geometry = parts[0] if len(parts) == 1 else QgsGeometry.collectGeometry(parts)
                geometry = QgsGeometry(geometry)
                geometry.convertToMultiType()
                feature.setGeometry(geometry)
            feature.setAttributes(self._ward_attributes(item))
            features.append(feature)
        if coverage.outside.buildings:
            # A row without geometry: the attribute table says how many fell outside every ward.
            feature = QgsFeature(fields)
            feature.setAttributes(self._ward_attributes(coverage.outside))
            features.append(feature)
        add_features(sink, features, feedback)
        if context.willLoadLayerOnCompletion(destination):
            details = context.layerToLoadOnCompletionDetails(destination)
            details.name = f"Water supply coverage by ward ({coverage.outside.buildings} buildings outside every ward)"
        style_on_load(context, destination, wards_renderer)
        return {self.OUTPUT_WARDS: destination}

    def _write_summary(self, parameters, context, coverage):
        table = rules.summary_table(coverage)
        fields = QgsFields()
        for index, header in enumerate(table[0]):
            kind = QVariant.String if index == 0 else QVariant.Double if header.startswith("%") else QVariant.Int
            fields.append(QgsField(header, kind))
        sink, destination = self.sink(parameters, self.OUTPUT_SUMMARY, context, fields, QgsWkbTypes.NoGeometry, WGS84)
        for row in table[1:]:
            feature = QgsFeature(fields)
            feature.setAttributes(row)
            sink.addFeature(feature)
        return {self.OUTPUT_SUMMARY: destination}

    def _sheets(self, request, data, municipal, coverage, listed):
        table = rules.summary_table(coverage)
        headers = [header for _, header, _ in BUILDING_COLUMNS]
        flag_index = [name for name, _, _ in BUILDING_COLUMNS].index("pipe_code_flag")
        return [
            excel.Sheet(COVERAGE_SHEET, table[0], table[1:]),
            excel.Sheet(BUILDING_SHEET, headers, listed),
            excel.Sheet(CHECKS_SHEET, headers, [row for row in listed if row[flag_index] is not None]),
            excel.parameters_sheet(self._parameter_rows(request, data, municipal, coverage)),
        ]

    def _parameter_rows(self, request, data, municipal, coverage):
        def layer(info):
            if info is None:
                return "none"
            return info.name + (" (selected features only)" if info.selected_only else "")

        total = coverage.total
        rows = [
            ("Analysis", "Water supply coverage (imis:watersupplycoverage)"),
            ("Note", NOT_IMIS),
            ("Data source", data.data_source),
            ("Ran in", data.execution),
            ("Pipe layer", layer(request.pipes)),
            ("Live pipes used", data.pipes_used),
            ("Buildings layer", layer(request.buildings)),
            ("Ward layer", layer(request.wards)),
            ("Reach of a service connection (m)", request.distance),
            ("Method", METHOD),
            ("Municipal water sources (by name)",
             ", ".join(str(data.water_sources[key]) for key in sorted(municipal, key=str)) or "none found"),
            ("Connected", "main water source is a municipal source, or a pipe code is recorded"),
            ("Ward of a building", "the ward polygon containing its footprint centroid"),
            ("Buildings classified", total.buildings),
        ]
        rows += [(f"  {label}", total.counts[key]) for key, label in rules.STATUS_CLASSES]
        rows += [(f"Pipe code check: {flag}", total.flags[flag]) for flag in rules.FLAGS]
        if request.wards is not None:
            rows.append(("Buildings outside every ward", coverage.outside.buildings))
        rows += [
            ("Buildings without footprint (left out)", len(data.null_footprints)),
            ("Buildings without population (counted as 0)", total.population_missing),
            ("Rules", "Soft-deleted buildings, pipes and wards are ignored. Recorded pipe codes are checked against "
                      "the whole pipe table."),
            ("Lookup labels read from", data.lookups_source or data.data_source),
            ("Date", datetime.datetime.now().replace(microsecond=0).isoformat(sep=" ")),
            ("Plugin version", plugin_version()),
        ]
        return rows


def _first(values, limit=10):
    shown = ", ".join(str(value) for value in values[:limit])
    return shown + (f" and {len(values) - limit} more" if len(values) > limit else "")
