"""imis:connectioncandidates: buildings that could be connected to a drain or a sewer (issue 4).

The distance part is the shared zone analysis (zone.run_zone: same metres, soft-delete rules
and PostGIS/QGIS paths as imis:waterbodybuffer) with the drains or sewers as sources; the
candidate rule (connection_rules) then leaves out buildings already connected.
"""
import dataclasses
import datetime
import os

from qgis.core import (
    QgsFeature,
    QgsField,
    QgsFields,
    QgsProcessing,
    QgsProcessingOutputNumber,
    QgsProcessingOutputString,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterString,
    QgsProviderRegistry,
    QgsWkbTypes,
)
from qgis.PyQt.QtCore import QVariant

from . import connection_rules as rules
from . import excel
from .base import ImisAnalysis, Progress, add_features, first_values, plugin_version, write_table_output
from .errors import AnalysisError
from .inputs import LAYER_KEY_PROPERTY, companion_rows, describe, input_layer
from .summary import BUILDING_HEADERS, CONTAINMENT_HEADERS, summarize_buildings, summarize_containments
from .zone import ZoneRequest, run_zone

HELP = """<p>Finds the buildings that could be connected to a drain or a sewer: the buildings within
<i>Distance</i> metres of the chosen lines that are not connected to a network of that kind yet,
each with its nearest line and how far it is, what it is built of, how it disposes of waste today,
its containments and its population. Writes the IMIS summary and, optionally, the IMIS workbook.</p>
<h3>The candidate rule</h3>
<p>A building is a candidate when all of these hold:</p>
<ol>
<li>it is not deleted and its footprint lies within <i>Distance</i> metres (default 30 m) of a
chosen line: true geodesic distance on the WGS84 ellipsoid, from the footprint to the line
(a building over a line is at 0 m);</li>
<li>with <i>Leave out buildings already connected</i> (default on): it is not connected to a
network of this kind yet, that is, for drains: its <code>drain_code</code> is empty, its
sanitation system is not IMIS's drain network (id 2) and none of its live containments is of a
type IMIS connects to a drain (ids 2 and 14); for sewers: <code>sewer_code</code>, sanitation
system id 1 and containment types 1 and 13. These are the ids IMIS itself relies on; the names
shown come from the lookup tables of your database. Containment types are checked only when a
containment layer is given;</li>
<li>with a <i>Sanitation filter</i>: its sanitation system is one of the listed ones (names as stored
in the sanitation systems table, separated by ';', e.g. <code>Septic Tank; Pit/ Holding Tank;
Open Ground</code>). Empty (default) means any sanitation system, also none recorded.</li>
</ol>
<p>Each candidate appears once, with its nearest chosen line and the distance to it.</p>
<h3>Which lines</h3>
<p>The non-deleted features of the network layer; only the selected ones when "Selected features only"
is ticked (select one drain to get the buildings that could be connected to that drain). The layer
is recognised as drains or sewers by its table name (IMIS <code>utility_info.drains</code> /
<code>utility_info.sewers</code>, or the same names in a GeoPackage) or by its code field
(<code>drain_code</code> / <code>sewer_code</code>); <i>Network kind</i> (advanced) can say it
directly. Another line layer is accepted when it has a <code>code</code> field: a building then
counts as connected when its drain or sewer code is the code of one of its lines.</p>
<h3>Compared with IMIS</h3>
<p>IMIS's "Sewers Potential Buildings" lists every building near one sewer, connected or not, and
has no drain version. Untick <i>Leave out buildings already connected</i> to get IMIS's list (and
tick <i>IMIS-compatible buffer</i>, advanced, to use IMIS's buffer polygon, which misses buildings
in the last 0.5 % of the distance). Soft-deleted lines, buildings, links and containments never
count.</p>
<h3>Outputs</h3>
<p>The candidate buildings (BIN, nearest line code, distance in metres, structure type, sanitation
system, containment ids and types, population); the IMIS summary by structure type (only buildings
whose sanitation system is shown on the IMIS map count, as in IMIS); optionally the workbook
(IMIS's sheets "Buildings Sheet", "Buildings List", "Containment List", plus "Containments by Type",
"Candidates" sorted by distance, and "Parameters" with the rule as applied). IMIS names such a
workbook "Sewer Potential buildings Buffer Summary Information.xlsx"; the drain one is
"Drain Potential buildings Buffer Summary Information.xlsx".</p>
<p>When every input is a PostGIS layer of one IMIS database, the distances are computed in the
database (one read-only query; Cancel cancels it); otherwise in QGIS. Both give the same
answer.</p>"""

METHOD_EXACT = "exact geodesic distance (footprint to line, WGS84 ellipsoid)"
METHOD_IMIS = ("IMIS-compatible: footprint intersects IMIS's buffer polygon "
               "(ST_Buffer(line::geography, d), 8 segments per quarter circle)")
KIND_OPTIONS = ("Detect from the layer (table name or code field)", "Drains", "Sewers")
KIND_BY_OPTION = {1: rules.DRAIN, 2: rules.SEWER}
CANDIDATES_SHEET = "Candidates"
BUILDING_FIELDS = ("drain_code", "sewer_code", "population_served")


def network_names(layer):
    """Names that may tell what a line layer is: IMIS layer key, table, file, layer name."""
    names = [layer.customProperty(LAYER_KEY_PROPERTY)]
    if layer.providerType() == "postgres":
        from qgis.core import QgsDataSourceUri

        names.append(QgsDataSourceUri(layer.source()).table())
    elif layer.providerType() == "ogr":
        parts = QgsProviderRegistry.instance().decodeUri("ogr", layer.source())
        names.append(parts.get("layerName"))
        names.append(os.path.splitext(os.path.basename(parts.get("path") or ""))[0])
    names.append(layer.name())
    return [str(name) for name in names if name]


class ConnectionCandidatesAlgorithm(ImisAnalysis):
    NETWORK = "NETWORK"
    BUILDINGS = "BUILDINGS"
    CONTAINMENTS = "CONTAINMENTS"
    DISTANCE = "DISTANCE"
    EXCLUDE_CONNECTED = "EXCLUDE_CONNECTED"
    SANITATION_FILTER = "SANITATION_FILTER"
    NETWORK_KIND = "NETWORK_KIND"
    IMIS_COMPATIBLE = "IMIS_COMPATIBLE"
    OUTPUT = "OUTPUT"
    OUTPUT_SUMMARY = "OUTPUT_SUMMARY"
    OUTPUT_XLSX = "OUTPUT_XLSX"

    HELP = HELP
    DISTANCE_PARAMETERS = {DISTANCE: "distance"}

    def name(self):
        return "connectioncandidates"

    def displayName(self):  # noqa: N802
        return "Drain and sewer connection candidates"

    def initAlgorithm(self, config=None):  # noqa: N802
        self.addParameter(QgsProcessingParameterFeatureSource(
            self.NETWORK, "Drains or sewers (selected features only: the chosen lines)",
            [QgsProcessing.TypeVectorLine]))
        self.addParameter(QgsProcessingParameterFeatureSource(
            self.BUILDINGS, "Buildings", [QgsProcessing.TypeVectorPolygon]))
        self.addParameter(QgsProcessingParameterFeatureSource(
            self.CONTAINMENTS, "Containments (optional)", [QgsProcessing.TypeVectorPoint], optional=True))
        self.addParameter(self.distance_parameter(self.DISTANCE, "Distance (metres)", 30.0))
        self.addParameter(QgsProcessingParameterBoolean(
            self.EXCLUDE_CONNECTED, "Leave out buildings already connected to a network of this kind",
            defaultValue=True))
        self.addParameter(QgsProcessingParameterString(
            self.SANITATION_FILTER, "Sanitation filter: only buildings with these sanitation systems (names as "
            "stored, separated by ';'; empty = any)", defaultValue="", optional=True))
        kind = QgsProcessingParameterEnum(self.NETWORK_KIND, "Network kind", list(KIND_OPTIONS), defaultValue=0)
        kind.setFlags(kind.flags() | kind.FlagAdvanced)
        self.addParameter(kind)
        imis = QgsProcessingParameterBoolean(self.IMIS_COMPATIBLE, "IMIS-compatible buffer (reproduce IMIS's list)",
                                             defaultValue=False)
        imis.setFlags(imis.flags() | imis.FlagAdvanced)
        self.addParameter(imis)
        self.addParameter(QgsProcessingParameterFeatureSink(
            self.OUTPUT, "Connection candidates", QgsProcessing.TypeVectorPolygon))
        self.addParameter(QgsProcessingParameterFeatureSink(
            self.OUTPUT_SUMMARY, "Candidates by structure type (IMIS summary)", QgsProcessing.TypeVector))
        self.addParameter(QgsProcessingParameterFileDestination(
            self.OUTPUT_XLSX, "Excel workbook (IMIS sheets, Candidates, Parameters)", "Excel workbook (*.xlsx)",
            optional=True, createByDefault=False))
        for name, description in (("CANDIDATES", "Candidate buildings"),
                                  ("BUILDINGS_NEAR", "Buildings within the distance"),
                                  ("EXCLUDED_CONNECTED", "Buildings left out as already connected"),
                                  ("EXCLUDED_BY_FILTER", "Buildings left out by the sanitation filter"),
                                  ("LINES_USED", "Lines used")):
            self.addOutput(QgsProcessingOutputNumber(name, description))
        self.addOutput(QgsProcessingOutputString("NETWORK_KIND_USED", "Network kind (drain, sewer or other)"))
        self.addOutput(QgsProcessingOutputString("EXECUTION", "Where the analysis ran (PostGIS or QGIS)"))

    # -- main thread ----------------------------------------------------------------------
    def prepare(self, parameters, context, feedback):
        network = describe(self, parameters, self.NETWORK, context, "network layer")
        if network is None:
            raise AnalysisError("Choose a drain or sewer layer.")
        network.require_geometry((QgsWkbTypes.LineGeometry,))
        buildings = describe(self, parameters, self.BUILDINGS, context, "buildings layer")
        if buildings is None:
            raise AnalysisError("Choose a buildings layer.")
        buildings.require_geometry((QgsWkbTypes.PolygonGeometry,))
        buildings.require_fields(("bin", "structure_type_id", "sanitation_system_id"),
                                 "the candidate list and the IMIS summary need them")
        containments = describe(self, parameters, self.CONTAINMENTS, context, "containment layer")
        if containments is not None:
            containments.require_geometry((QgsWkbTypes.PointGeometry,))
            containments.require_fields(("id", "type_id"))
        distance = self.parameterAsDouble(parameters, self.DISTANCE, context)
        imis = self.parameterAsBoolean(parameters, self.IMIS_COMPATIBLE, context)
        if imis and distance == 0:
            raise AnalysisError("IMIS's buffer of a line at 0 m is empty (no building could qualify). Give a distance "
                                "above 0 m, or turn off IMIS-compatible mode to get the buildings touching the lines.")
        exclude = self.parameterAsBoolean(parameters, self.EXCLUDE_CONNECTED, context)

        layer = input_layer(self, parameters, self.NETWORK, context)
        field_names = [f.name() for f in network.fields]
        kind = KIND_BY_OPTION.get(self.parameterAsEnum(parameters, self.NETWORK_KIND, context))
        self._kind_how = "as chosen"
        if kind is None:
            kind = rules.kind_from_names(network_names(layer))
            self._kind_how = "from the layer's table name"
        if kind is None:
            kind = rules.kind_from_fields(field_names)
            self._kind_how = "from the layer's code field"
        if kind is None:
            self._kind_how = "neither drains nor sewers"
        code = rules.code_field(field_names, kind)
        if code is None:
            raise AnalysisError(rules.code_field_problem(network.name, field_names))
        self._network_codes = ()
        if kind is None:
            self._network_codes = [value for value in layer.uniqueValues(network.field_index(code))
                                   if value is not None and not (hasattr(value, "isNull") and value.isNull())]
        if exclude:
            needed = (kind.building_code_field,) if kind is not None else ("drain_code", "sewer_code")
            if len(buildings.missing_fields(needed)) == len(needed):
                raise AnalysisError(
                    f"The buildings layer '{buildings.name}' has no field {' or '.join(needed)}, which tells whether a "
                    f"building is already connected. Use the IMIS buildings table, or untick \"Leave out buildings "
                    f"already connected\".")
        self._kind = kind
        self._exclude = exclude
        self._filter_text, self._sanitation_ids = self._sanitation_filter(parameters, [buildings, containments,
                                                                                       network])
        self._request = ZoneRequest(
            sources=network, buildings=buildings, containments=containments, distance=distance, source_key=code,
            imis_compatible=imis, building_fields=BUILDING_FIELDS,
            # Town-wide missing footprints say nothing about one chosen line; for all lines they do.
            find_null_footprints=not network.selected_only,
            with_list=bool(self.parameterAsFileOutput(parameters, self.OUTPUT_XLSX, context)))

    def _sanitation_filter(self, parameters, anchors):
        """(text for the Parameters sheet, set of sanitation ids or None), names checked against the table."""
        value = parameters.get(self.SANITATION_FILTER)
        if not rules.requested_names(value):
            return "any (no filter)", None
        rows, where = companion_rows(anchors, "sanitation_systems", ("id", "sanitation_system"))
        if rows is None:
            raise AnalysisError("The sanitation filter needs the sanitation systems table, which was not found next to "
                                "the buildings layer. Use layers of an IMIS database or GeoPackage, or load the IMIS "
                                "layers into the project.")
        labels = {row[0]: row[1] for row in rows if row[0] is not None}
        ids, unknown = rules.resolve_names(value, labels)
        if unknown:
            raise AnalysisError(rules.unknown_names_problem(unknown, labels))
        return "; ".join(str(labels[i]) for i in sorted(ids)), ids

    # -- worker thread --------------------------------------------------------------------
    def process(self, parameters, context, feedback):
        request = self._request
        xlsx = self.parameterAsFileOutput(parameters, self.OUTPUT_XLSX, context)
        progress = Progress(feedback, {"select": 60, "read": 5, "choose": 5, "outputs": 10,
                                       "workbook": 20 if xlsx else 0})
        result = run_zone(request, context, feedback, progress)
        if not result.sources:
            raise AnalysisError(f"No live line with a geometry in the network layer '{request.sources.name}'"
                                + (" among the selected features." if request.sources.selected_only else "."))
        progress.step("choose", "Applying the candidate rule…")
        lookups = result.lookups
        rule = rules.ConnectionRule(self._kind, lookups.sanitation_labels, lookups.containment_types,
                                    self._network_codes, with_containments=request.containments is not None)
        near = [record for record in result.buildings if record.in_zone]
        linked = {}
        for record in result.containments:
            for bin_ in record.bins:
                linked.setdefault(bin_, []).append((record.id, record.type_id))
        found = rules.choose(near, rule, self._exclude, self._sanitation_ids, linked)
        candidates = [record for record, _ in found.chosen]
        containments = self._candidate_containments(result.containments, {r.bin for r in candidates}, rule)
        summary = summarize_buildings(((r.structure_type_id, r.sanitation_system_id) for r in candidates),
                                      lookups.structure_types, lookups.sanitation_systems)
        self._report(feedback, result, rule, found, summary)

        progress.step("outputs", "Writing the outputs…")
        by_bin = {}
        for record in containments:
            for bin_ in record.bins:
                by_bin.setdefault(bin_, []).append(record)
        outputs = {}
        outputs.update(self._write_candidates(parameters, context, feedback, result, found, by_bin))
        outputs.update(write_table_output(self, parameters, self.OUTPUT_SUMMARY, context, summary.table()))
        if xlsx:
            progress.step("workbook", "Writing the Excel workbook…")
            if not excel.openpyxl_available():
                feedback.reportError(excel.OPENPYXL_MISSING)
            else:
                sheets = self._sheets(result, rule, found, summary, containments, by_bin)
                if not excel.write_workbook(xlsx, sheets, feedback):
                    progress.check()
                outputs[self.OUTPUT_XLSX] = xlsx
        progress.check()
        feedback.setProgress(100)
        outputs.update({
            "CANDIDATES": len(candidates), "BUILDINGS_NEAR": found.near, "EXCLUDED_CONNECTED": found.connected,
            "EXCLUDED_BY_FILTER": found.filtered, "LINES_USED": len(result.sources),
            "NETWORK_KIND_USED": self._kind.key if self._kind else "other", "EXECUTION": result.execution,
        })
        return outputs

    def _candidate_containments(self, zone_containments, candidate_bins, rule):
        """The containments of the candidates; unlinked ones near the lines as in the zone analysis.

        An unlinked containment (no live link to a building) is kept unless its type says it is
        connected already (when leaving those out) or a sanitation filter asks for buildings.
        """
        kept = []
        for record in zone_containments:
            if record.bins:
                bins = tuple(bin_ for bin_ in record.bins if bin_ in candidate_bins)
                if bins:
                    kept.append(record if bins == record.bins else dataclasses.replace(record, bins=bins))
            elif self._sanitation_ids is None and not (self._exclude and record.type_id in rule.containment_type_ids):
                kept.append(record)
        return kept

    def _report(self, feedback, result, rule, found, summary):
        request = self._request
        kind = self._kind.noun + "s" if self._kind else "lines (neither drains nor sewers)"
        feedback.pushInfo(f"Ran in {result.execution}; {len(result.sources)} {kind} used ({self._kind_how}); "
                          f"distance {request.distance:g} m "
                          f"({METHOD_IMIS if request.imis_compatible else METHOD_EXACT}).")
        feedback.pushInfo(f"{found.near} buildings within the distance.")
        if self._exclude:
            feedback.pushInfo(f"Left out as already connected: {found.connected} ({rule.description()}).")
        if self._sanitation_ids is not None:
            feedback.pushInfo(f"Left out by the sanitation filter ({self._filter_text}): {found.filtered}.")
        feedback.pushInfo(f"{len(found.chosen)} candidates.")
        for line in summary.explanation():
            feedback.pushInfo(line)
        if result.null_footprints:
            feedback.reportError(f"{len(result.null_footprints)} live buildings have no footprint and were left out: "
                                 f"{first_values(result.null_footprints)}.", False)
        if result.invalid_footprints:
            feedback.reportError(f"{len(result.invalid_footprints)} buildings near the lines have an invalid "
                                 f"footprint (measured as drawn; please fix): "
                                 f"{first_values(result.invalid_footprints)}.", False)
        for warning in result.warnings + rule.warnings + result.lookups.missing_messages():
            feedback.reportError(warning, False)

    def _code_type(self, result):
        return QVariant.LongLong if result.sources and all(isinstance(s.key, int) for s in result.sources) \
            else QVariant.String

    def _write_candidates(self, parameters, context, feedback, result, found, by_bin):
        fields = QgsFields()
        for name, kind in (("bin", QVariant.String), ("network_code", self._code_type(result)),
                           ("distance_m", QVariant.Double), ("structure_type", QVariant.String),
                           ("sanitation_system", QVariant.String), ("containment_ids", QVariant.String),
                           ("containment_types", QVariant.String), ("population_served", QVariant.Int),
                           ("in_summary", QVariant.Bool), ("connected", QVariant.String)):
            fields.append(QgsField(name, kind))
        # The PostGIS path runs only on EPSG:4326 layers, the QGIS path keeps the layer's geometry: same CRS.
        sink, destination = self.sink(parameters, self.OUTPUT, context, fields, QgsWkbTypes.MultiPolygon,
                                      self._request.buildings.crs)
        lookups = result.lookups
        # plain dict lookups in the loop: it runs once per candidate (tens of thousands)
        structure = lookups.structure_types.get
        sanitation = lookups.sanitation_labels.get
        shown = {key for key, (_, map_display) in lookups.sanitation_systems.items() if map_display is True}

        def features():
            for record, reasons in found.chosen:
                feature = QgsFeature(fields)
                geometry = record.geometry
                if geometry is not None:
                    if not geometry.isMultipart():
                        geometry.convertToMultiType()
                    feature.setGeometry(geometry)
                ids, types = _containment_cells(by_bin[record.bin], lookups) if record.bin in by_bin else (None, None)
                feature.setAttributes([
                    record.bin, record.source_key, _metres(record.distance),
                    structure(record.structure_type_id), sanitation(record.sanitation_system_id),
                    ids, types, record.attributes.get("population_served"), record.sanitation_system_id in shown,
                    "; ".join(text for _, text in reasons) if reasons else None])
                yield feature

        add_features(sink, features(), feedback)
        return {self.OUTPUT: destination}

    def _sheets(self, result, rule, found, summary, containments, by_bin):
        from .containments import pairs

        candidates = [record for record, _ in found.chosen]
        containment_ids = {bin_: [record.id for record in records] for bin_, records in by_bin.items()}
        containment_summary = summarize_containments((record.type_id for record in containments),
                                                     result.lookups.containment_types)
        return [
            excel.Sheet(excel.BUILDINGS_SHEET, BUILDING_HEADERS, summary.table()[1:]),
            excel.Sheet(excel.BUILDINGS_LIST, [h for h, _ in excel.BUILDINGS_LIST_COLUMNS],
                        excel.buildings_list_rows(candidates, containment_ids, result.lookups, result.owners)),
            excel.Sheet(excel.CONTAINMENTS_BY_TYPE, CONTAINMENT_HEADERS, containment_summary.table()[1:]),
            excel.Sheet(excel.CONTAINMENT_LIST, [h for h, _ in excel.CONTAINMENT_LIST_COLUMNS],
                        excel.containment_list_rows(pairs(containments), result.lookups)),
            self._candidates_sheet(result, found, by_bin),
            excel.parameters_sheet(self._parameter_rows(result, rule, found, summary, containments)),
        ]

    def _candidates_sheet(self, result, found, by_bin):
        title = self._kind.title if self._kind else "Line"
        headers = ["BIN", f"Nearest {title} Code", "Distance (m)", "Structure Type", "Sanitation System",
                   "Containment IDs", "Containment Types", "Population of Building"]
        if not self._exclude:
            headers.append("Already Connected")
        lookups = result.lookups
        rows = []
        # by the distance as shown (mm), then BIN, so equal distances read in BIN order
        for record, reasons in sorted(found.chosen, key=lambda item: (_sort_metres(item[0].distance), item[0].bin)):
            ids, types = _containment_cells(by_bin.get(record.bin, ()), lookups)
            row = [record.bin, record.source_key, _metres(record.distance),
                   lookups.structure_types.get(record.structure_type_id),
                   lookups.sanitation_labels.get(record.sanitation_system_id), ids, types,
                   record.attributes.get("population_served")]
            if not self._exclude:
                row.append("; ".join(text for _, text in reasons) or "No")
            rows.append(row)
        return excel.Sheet(CANDIDATES_SHEET, headers, rows)

    def _parameter_rows(self, result, rule, found, summary, containments):
        request = self._request
        noun = self._kind.noun if self._kind else "line"
        codes = sorted(str(source.key) for source in result.sources)
        listed = ", ".join(codes[:100]) + (f", … and {len(codes) - 100} more" if len(codes) > 100 else "")
        rule_text = (f"A candidate is a live building whose footprint lies within the distance of a chosen live "
                     f"{noun}" + (", that is not already connected to a network of this kind" if self._exclude else "")
                     + (", whose sanitation system is in the sanitation filter" if self._sanitation_ids is not None
                        else "") + ". Each candidate is listed once, with its nearest chosen line.")
        rows = [
            ("Analysis", "Drain and sewer connection candidates (imis:connectioncandidates)"),
            ("Data source", result.data_source),
            ("Ran in", result.execution),
            ("Network layer", request.sources.name + (" (selected features only)" if request.sources.selected_only
                                                      else "")),
            ("Network kind", f"{self._kind.noun + 's' if self._kind else 'neither drains nor sewers'} "
                             f"({self._kind_how})"),
            ("Lines used", len(result.sources)),
            ("Line codes", listed),
            ("Distance (m)", request.distance),
            ("Method", METHOD_IMIS if request.imis_compatible else METHOD_EXACT),
            ("Buildings layer", request.buildings.name + (" (selected features only)" if request.buildings.selected_only
                                                          else "")),
            ("Containment layer", request.containments.name if request.containments is not None else "none"),
            ("Candidate rule", rule_text),
            ("Leave out buildings already connected", self._exclude),
            ("Already connected means", rule.description()),
            ("Sanitation filter", self._filter_text),
            ("Buildings within the distance", found.near),
            ("Left out as already connected", found.connected),
        ]
        rows += [(f"  by {category}", count) for category, count in sorted(found.connected_by.items())]
        rows += [
            ("Left out by the sanitation filter", found.filtered),
            ("Candidates", len(found.chosen)),
            ("Candidates counted in the summary", summary.counted),
            ("Candidates left out of the summary", summary.left_out_count),
        ]
        rows += [("Left out of the summary: " + reason, count) for reason, count in summary.left_out]
        rows += [("Note", note) for note in summary.notes]
        rows += [
            ("Containments listed", len(containments)),
            ("Containment rule", "Containments of the candidates (live links); live containments without any live "
                                 "link are listed when their own point is within the distance"
                                 + (", unless their type says they are connected" if self._exclude else "")
                                 + (" (not with a sanitation filter)" if self._sanitation_ids is not None else "")
                                 + "."),
            ("Buildings without footprint (left out)", len(result.null_footprints)),
            ("Rules", "Soft-deleted lines, buildings, links and containments are ignored."),
        ]
        rows += [("Warning", warning) for warning in result.warnings + rule.warnings]
        rows += [
            ("Lookup labels read from", result.lookups.source or result.data_source),
            ("Date", datetime.datetime.now().replace(microsecond=0).isoformat(sep=" ")),
            ("Plugin version", plugin_version()),
        ]
        return rows


def _metres(distance):
    """Distances are shown to the millimetre."""
    return None if distance is None else round(distance, 3)


def _sort_metres(distance):
    return float("inf") if distance is None else _metres(distance)


def _containment_cells(records, lookups):
    """(ids, types) texts of a building's containments, in id order; (None, None) when it has none."""
    records = sorted(records, key=lambda record: record.id)
    if not records:
        return None, None
    types = [str(lookups.containment_types.get(record.type_id) or "") for record in records]
    return ", ".join(record.id for record in records), "; ".join(types)
