"""imis:surveychecks: find survey errors in buildings and containments, read only."""
from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsFeature,
    QgsFeatureSink,
    QgsField,
    QgsFields,
    QgsGeometry,
    QgsProcessing,
    QgsProcessingAlgorithm,
    QgsProcessingException,
    QgsProcessingOutputNumber,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterNumber,
    QgsWkbTypes,
)
from qgis.PyQt.QtCore import QVariant

from .survey_check_catalog import BY_CODE, CHECKS, CODES, help_table
from .survey_inputs import describe_buildings_layer, input_layer, selected_only

# Thresholds: parameter name -> (label, default, key in the check queries, scale to SQL units)
THRESHOLDS = {
    "OVERLAP_SHARE": ("Overlap: report when the shared area exceeds this share of the smaller "
                      "footprint (%)", 10.0, "overlap_share", 0.01),
    "SLIVER_AREA": ("Sliver: report footprints or parts smaller than (m²)", 2.0, "sliver_area", 1.0),
    "AREA_SHARE": ("Estimated area: report when it differs from the geodesic area by more than (%)",
                   5.0, "area_share", 0.01),
    "CONTAINMENT_DISTANCE": ("Containment: report when farther than this from every linked "
                             "building (m)", 30.0, "containment_distance", 1.0),
    "NETWORK_DISTANCE": ("Drain/sewer/pipe: report when the line is farther than this from the "
                         "footprint (m)", 100.0, "network_distance", 1.0),
}
THRESHOLD_UNITS = {"OVERLAP_SHARE": "%", "SLIVER_AREA": "m²", "AREA_SHARE": "%",
                   "CONTAINMENT_DISTANCE": "m", "NETWORK_DISTANCE": "m"}


def issue_fields():
    fields = QgsFields()
    for name, kind in (("code", QVariant.String), ("severity", QVariant.String),
                       ("check", QVariant.String), ("message", QVariant.String),
                       ("bin", QVariant.String), ("containment_id", QVariant.String),
                       ("other_id", QVariant.String), ("value", QVariant.Double)):
        fields.append(QgsField(name, kind))
    return fields


def summary_fields():
    fields = QgsFields()
    for name, kind in (("code", QVariant.String), ("severity", QVariant.String),
                       ("check", QVariant.String), ("issues", QVariant.Int),
                       ("threshold", QVariant.String), ("status", QVariant.String)):
        fields.append(QgsField(name, kind))
    return fields


def _geometry(wkb):
    if not wkb:
        return QgsGeometry()
    geometry = QgsGeometry()
    geometry.fromWkb(bytes(wkb))
    return geometry


class SurveyChecksAlgorithm(QgsProcessingAlgorithm):
    BUILDINGS = "BUILDINGS"
    CHECKS = "CHECKS"
    OUTPUT = "OUTPUT"
    OUTPUT_AREAS = "OUTPUT_AREAS"
    SUMMARY = "SUMMARY"
    WORKBOOK = "WORKBOOK"
    ISSUES = "ISSUES"
    ERRORS = "ERRORS"

    def name(self):
        return "surveychecks"

    def displayName(self):  # noqa: N802
        return "Survey checks (buildings and containments)"

    def group(self):
        return "Data quality"

    def groupId(self):  # noqa: N802
        return "dataquality"

    def shortHelpString(self):  # noqa: N802
        return (
            "<p>Finds the errors survey teams typically deliver in building footprints and "
            "containment points, all at once, without changing anything (read-only).</p>"
            "<p><b>Buildings layer</b>: the IMIS buildings layer. Every other table "
            "(containments, links, wards, city boundary, drains, sewers, water-supply pipes, "
            "lookups) is read from the same IMIS database. Only live rows are checked "
            "(deleted_at empty). With <i>Selected features only</i>, building checks cover the "
            "selected buildings (pairs: at least one selected) and containment checks the "
            "containments linked to them.</p>"
            "<p><b>Where it runs</b>: for a layer of the IMIS PostGIS database, in the database, in "
            "one read-only transaction (cancelling stops the running query). For a layer of an IMIS "
            "GeoPackage, in QGIS, on the tables of the same GeoPackage (same rules; slower on "
            "large towns).</p>"
            "<p><b>Checks</b> (stable codes, severity):</p>" + help_table() +
            "<p>Invalid footprints are left out of the overlap, duplicate, sliver, city, ward and "
            "area checks (their shape is not reliable): repair them first with "
            "<i>Repair building footprints</i>, then run the checks again.</p>"
            "<p>Areas are geodesic (square metres on the WGS 84 spheroid) and distances are "
            "metres on the spheroid, whatever the layer CRS.</p>"
            "<p><b>Outputs</b>: <i>Survey issues</i>, one point per issue (where the problem is) "
            "with code, severity, check, message, bin, containment_id, other_id (the other "
            "building of a pair, the network code, or the linked BINs) and value (overlap share "
            "0–1, sliver or footprint area m², share outside the city 0–1, distance m); "
            "<i>Survey issue areas</i>, the area of each issue that has one (overlap, sliver, "
            "part outside the city, invalid or duplicate footprint); <i>Survey checks summary</i>, "
            "one row per check with its count, threshold and status; and optionally a workbook "
            "(.xlsx) with the sheets Summary and Issues.</p>"
        )

    def createInstance(self):  # noqa: N802
        return SurveyChecksAlgorithm()

    def initAlgorithm(self, config=None):  # noqa: N802
        self.addParameter(QgsProcessingParameterFeatureSource(
            self.BUILDINGS, "Buildings layer (IMIS building_info.buildings)",
            [QgsProcessing.TypeVectorPolygon]))
        self.addParameter(QgsProcessingParameterEnum(
            self.CHECKS, "Checks to run", options=[f"{c.code}: {c.title}" for c in CHECKS],
            allowMultiple=True, defaultValue=list(range(len(CHECKS)))))
        for name, (label, default, _, _) in THRESHOLDS.items():
            self.addParameter(QgsProcessingParameterNumber(
                name, label, QgsProcessingParameterNumber.Double, default, minValue=0.0))
        self.addParameter(QgsProcessingParameterFeatureSink(
            self.OUTPUT, "Survey issues", QgsProcessing.TypeVectorPoint))
        self.addParameter(QgsProcessingParameterFeatureSink(
            self.OUTPUT_AREAS, "Survey issue areas", QgsProcessing.TypeVectorPolygon, optional=True,
            createByDefault=True))
        self.addParameter(QgsProcessingParameterFeatureSink(
            self.SUMMARY, "Survey checks summary", QgsProcessing.TypeVector))
        self.addParameter(QgsProcessingParameterFileDestination(
            self.WORKBOOK, "Workbook (optional)", "Excel workbook (*.xlsx)", optional=True,
            createByDefault=False))
        self.addOutput(QgsProcessingOutputNumber(self.ISSUES, "Number of issues"))
        self.addOutput(QgsProcessingOutputNumber(self.ERRORS, "Number of issues of severity error"))

    def prepareAlgorithm(self, parameters, context, feedback):  # noqa: N802
        # Main thread: read what the layer is; processAlgorithm never touches the layer.
        layer = input_layer(self, parameters, self.BUILDINGS, context)
        self._source = describe_buildings_layer(layer, selected_only(parameters, self.BUILDINGS))
        if self._source.selected_only and not self._source.selected_bins:
            raise QgsProcessingException(
                f"'Selected features only' is on but no building of layer '{layer.name()}' is selected.")
        return True

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        chosen = self.parameterAsEnums(parameters, self.CHECKS, context)
        codes = [CODES[i] for i in sorted(chosen)] if chosen else list(CODES)
        thresholds, labels = {}, {}
        for name, (_, _, key, scale) in THRESHOLDS.items():
            value = self.parameterAsDouble(parameters, name, context)
            thresholds[key] = value * scale
            labels[name] = f"{value:g} {THRESHOLD_UNITS[name]}"
        scope = self._source.selected_bins if self._source.selected_only else None

        if self._source.kind == "postgres":
            issues, statuses = self._run_postgis(codes, thresholds, scope, feedback)
        else:
            issues, statuses = self._run_qgis(codes, thresholds, scope, feedback)
        if feedback.isCanceled():
            return {}

        crs = QgsCoordinateReferenceSystem("EPSG:4326")
        fields = issue_fields()
        sink, dest = self.parameterAsSink(parameters, self.OUTPUT, context, fields, QgsWkbTypes.Point, crs)
        if sink is None:
            raise QgsProcessingException(self.invalidSinkError(parameters, self.OUTPUT))
        area_sink, area_dest = self.parameterAsSink(
            parameters, self.OUTPUT_AREAS, context, fields, QgsWkbTypes.MultiPolygon, crs)
        issue_rows = []
        total = len(issues) or 1
        for number, issue in enumerate(issues):
            if feedback.isCanceled():
                return {}
            check = BY_CODE[issue.code]
            attrs = [issue.code, check.severity, check.title, issue.message, issue.bin,
                     issue.containment_id, issue.other_id, issue.value]
            point = _geometry(issue.point_wkb)
            feature = QgsFeature(fields)
            feature.setAttributes(attrs)
            feature.setGeometry(point)
            sink.addFeature(feature, QgsFeatureSink.FastInsert)
            if area_sink is not None and issue.area_wkb:
                area = _geometry(issue.area_wkb)
                if not area.isEmpty():
                    area.convertToMultiType()
                    feature.setGeometry(area)
                    area_sink.addFeature(feature, QgsFeatureSink.FastInsert)
            lon = lat = None
            if not point.isEmpty():
                lon, lat = point.asPoint().x(), point.asPoint().y()
            issue_rows.append((issue.code, check.severity, issue.message, issue.bin,
                               issue.containment_id, issue.other_id, issue.value, lon, lat))
            feedback.setProgress(80 + 15 * number / total)

        summary_rows = []
        for check in CHECKS:
            status = statuses.get(check.code)
            if status is None:
                row = (check.code, check.severity, check.title, None,
                       labels.get(check.threshold, ""), "not chosen")
            else:
                state = status.note or ("ran" if status.ran else "not run (cancelled)")
                row = (check.code, check.severity, check.title, status.count if status.ran else None,
                       labels.get(check.threshold, ""), state)
            summary_rows.append(row)
        summary_sink, summary_dest = self.parameterAsSink(
            parameters, self.SUMMARY, context, summary_fields(), QgsWkbTypes.NoGeometry)
        if summary_sink is None:
            raise QgsProcessingException(self.invalidSinkError(parameters, self.SUMMARY))
        for row in summary_rows:
            feature = QgsFeature(summary_fields())
            feature.setAttributes(list(row))
            summary_sink.addFeature(feature, QgsFeatureSink.FastInsert)

        results = {self.OUTPUT: dest, self.SUMMARY: summary_dest,
                   self.ISSUES: len(issues),
                   self.ERRORS: sum(1 for i in issues if i.severity == "error")}
        if area_sink is not None:
            results[self.OUTPUT_AREAS] = area_dest
        workbook = self.parameterAsFileOutput(parameters, self.WORKBOOK, context)
        if workbook:
            from .survey_workbook import write_checks_workbook

            try:
                write_checks_workbook(workbook, summary_rows, issue_rows)
            except (RuntimeError, OSError) as error:
                raise QgsProcessingException(f"Could not write the workbook {workbook}: {error}") from None
            results[self.WORKBOOK] = workbook
        for row in summary_rows:
            if row[3]:
                feedback.pushInfo(f"{row[0]}: {row[3]} issue(s)")
        feedback.setProgress(100)
        return results

    def _run_qgis(self, codes, thresholds, scope, feedback):
        from .survey_check_qgis import QgisChecks

        checks = QgisChecks(self._source.path, thresholds, scope, feedback, self._source.table or "buildings")
        progress = lambda done, total: feedback.setProgress(80 * done / total)  # noqa: E731
        try:
            return checks.run(codes, progress)
        except ValueError as error:
            raise QgsProcessingException(str(error)) from None

    def _run_postgis(self, codes, thresholds, scope, feedback):
        from ..imis_plugin import db
        from .survey_check_sql import PostgisChecks

        try:
            conn = db.connect_uri(self._source.uri, application_name="QGIS IMIS survey checks")
        except db.ImisDbError as error:
            raise QgsProcessingException(str(error)) from None
        try:
            checks = PostgisChecks(conn, thresholds, scope, feedback)
            progress = lambda done, total: feedback.setProgress(80 * done / total)  # noqa: E731
            try:
                return checks.run(codes, progress)
            except db.QueryCancelled:
                feedback.reportError("Cancelled: no results.")
                return [], {}
            except db.psycopg2.Error as error:
                first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
                raise QgsProcessingException(f"The survey checks failed in the database: {first}") from None
        finally:
            conn.close()
