"""imis:repairgeometries: make chosen building footprints valid MultiPolygons, safely."""
import re

from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsExpression,
    QgsFeature,
    QgsFeatureRequest,
    QgsFeatureSink,
    QgsField,
    QgsFields,
    QgsProcessing,
    QgsProcessingAlgorithm,
    QgsProcessingException,
    QgsProcessingOutputNumber,
    QgsProcessingOutputString,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterString,
    QgsProcessingUtils,
    QgsWkbTypes,
)
from qgis.PyQt.QtCore import QVariant

from .survey_inputs import describe_buildings_layer, input_layer, selected_only

DATABASE = "database transaction"
BUFFER = "layer edit buffer"


def parse_bins(text):
    """BINs from free text: commas, semicolons, spaces or new lines between them."""
    seen, out = set(), []
    for token in re.split(r"[\s,;]+", text or ""):
        token = token.strip().strip("'\"")
        if token and token not in seen:
            seen.add(token)
            out.append(token)
    return out


def report_fields():
    fields = QgsFields()
    for name, kind in (("bin", QVariant.String), ("status", QVariant.String),
                       ("valid_before", QVariant.Bool), ("problem", QVariant.String),
                       ("area_before_m2", QVariant.Double), ("area_after_m2", QVariant.Double),
                       ("area_change_m2", QVariant.Double), ("area_change_pct", QVariant.Double),
                       ("estimated_area_before", QVariant.Double), ("estimated_area_after", QVariant.Double),
                       ("vertices_removed", QVariant.Int), ("parts_before", QVariant.Int),
                       ("parts_after", QVariant.Int)):
        fields.append(QgsField(name, kind))
    return fields


def _value(value):
    """None for NULL (QVariant) attribute values."""
    if value is None or (hasattr(value, "isNull") and value.isNull()) or value == "":
        return None
    return value


def _float(value):
    return None if value is None else float(value)


class RepairGeometriesAlgorithm(QgsProcessingAlgorithm):
    INPUT = "INPUT"
    BINS = "BINS"
    DRY_RUN = "DRY_RUN"
    OUTPUT = "OUTPUT"
    REPAIRED = "REPAIRED"
    UNCHANGED = "UNCHANGED"
    NOT_REPAIRABLE = "NOT_REPAIRABLE"
    REVISIONS = "REVISIONS"
    MODE = "MODE"

    def name(self):
        return "repairgeometries"

    def displayName(self):  # noqa: N802
        return "Repair building footprints"

    def group(self):
        return "Data quality"

    def groupId(self):  # noqa: N802
        return "dataquality"

    def shortHelpString(self):  # noqa: N802
        return (
            "<p>Makes the chosen building footprints valid 2D MultiPolygons and recomputes their "
            "estimated_area, without losing area that belongs to them.</p>"
            "<p><b>Which buildings</b>: the selected buildings (tick <i>Selected features only</i>), "
            "or the BINs you list (separated by commas or spaces; they must be in the layer, and in "
            "the selection if one is used). One of the two is required.</p>"
            "<p><b>What it does</b> to each footprint: drops Z/M values and repeated vertices; if "
            "the footprint is still invalid, makes each part valid (a bow-tie keeps both of its "
            "halves) and unions the parts (overlapping parts keep their shared area once); drops "
            "bits without area (spikes, lines); writes the result as a MultiPolygon in EPSG:4326; "
            "sets estimated_area to its geodesic area in m² (WGS 84), 2 decimals. Footprints "
            "that need nothing are left alone. The report lists, per building, the problem found, "
            "the area before and after and the change (m² and %), the vertices removed and the "
            "parts before and after. The area before is what the stored shape measures: for a "
            "self-crossing (bow-tie) footprint the crossing halves cancel out, so its repaired "
            "area is larger than before by design.</p>"
            "<p><b>How it writes</b>: when the layer is being edited, the changes go into its edit "
            "buffer as one undoable step (geometry and estimated_area only; nothing is saved until "
            "you save the layer). Otherwise (IMIS PostGIS layer) everything is written in one "
            "database transaction together with the IMIS revisions rows (geom, estimated_area, "
            "user_id), updated_at and user_id, as the IMIS forms do: if anything fails, nothing is "
            "written. This needs your IMIS user (IMIS menu > IMIS database settings). A GeoPackage "
            "layer must be in edit mode.</p>"
            "<p><b>Dry run</b>: reports what would change, changes nothing (read-only).</p>"
        )

    def createInstance(self):  # noqa: N802
        return RepairGeometriesAlgorithm()

    def initAlgorithm(self, config=None):  # noqa: N802
        self.addParameter(QgsProcessingParameterFeatureSource(
            self.INPUT, "Buildings layer (IMIS building_info.buildings)", [QgsProcessing.TypeVectorPolygon]))
        self.addParameter(QgsProcessingParameterString(
            self.BINS, "BINs to repair (empty: the selected buildings)", optional=True, multiLine=True))
        self.addParameter(QgsProcessingParameterBoolean(
            self.DRY_RUN, "Dry run: report only, change nothing", defaultValue=False))
        self.addParameter(QgsProcessingParameterFeatureSink(
            self.OUTPUT, "Repair report", QgsProcessing.TypeVectorPolygon))
        for name, label in ((self.REPAIRED, "Footprints repaired (or to repair, in a dry run)"),
                            (self.UNCHANGED, "Footprints that needed nothing"),
                            (self.NOT_REPAIRABLE, "Footprints that could not be repaired"),
                            (self.REVISIONS, "IMIS revisions rows written")):
            self.addOutput(QgsProcessingOutputNumber(name, label))
        self.addOutput(QgsProcessingOutputString(self.MODE, "Where the changes were written"))

    # --- main thread: what the layer is and how to write ------------------------------------
    def prepareAlgorithm(self, parameters, context, feedback):  # noqa: N802
        layer = input_layer(self, parameters, self.INPUT, context)
        selected = selected_only(parameters, self.INPUT)
        self._source = describe_buildings_layer(layer, selected)
        self._bins = parse_bins(self.parameterAsString(parameters, self.BINS, context))
        self._dry_run = self.parameterAsBoolean(parameters, self.DRY_RUN, context)
        self._plans = []
        if not self._bins and not selected:
            raise QgsProcessingException(
                "Choose the buildings to repair: select them and tick 'Selected features only', or "
                "list their BINs.")
        if selected and not self._source.selected_bins:
            raise QgsProcessingException(
                f"'Selected features only' is on but no building of layer '{layer.name()}' is selected.")
        if layer.isEditable():
            self._mode = BUFFER
            if layer.crs().authid() != "EPSG:4326":
                raise QgsProcessingException(
                    f"Layer '{layer.name()}' is in {layer.crs().authid()}; IMIS footprints are EPSG:4326.")
            self._area_index = layer.fields().indexOf("estimated_area")
        elif self._source.kind == "postgres":
            self._mode = DATABASE
            if not self._dry_run:
                from ..imis_plugin import settings

                self._user_id = settings.imis_user_id()
                self._timezone = settings.timezone()
                if self._user_id is None:
                    raise QgsProcessingException(
                        "No IMIS user chosen: repairs are written with your IMIS user id, as the IMIS "
                        "forms do (IMIS menu > IMIS database settings). Nothing was changed.")
        else:
            raise QgsProcessingException(
                f"Layer '{layer.name()}' is a GeoPackage layer that is not being edited: start editing "
                "it (Toggle Editing), run the repair again, then review and save the edits.")
        return True

    # --- worker thread ---------------------------------------------------------------------
    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        from .footprint_repair import geodesic_calculator

        calc = geodesic_calculator()
        wanted = self._bins or self._source.selected_bins
        if self._source.selected_only and self._bins:
            outside = [b for b in self._bins if b not in set(self._source.selected_bins)]
            if outside:
                raise QgsProcessingException(
                    "These BINs are not among the selected buildings: " + ", ".join(outside[:20])
                    + ". Nothing was changed.")
        if self._mode == BUFFER:
            plans, revisions_written = self._plan_buffer(parameters, context, feedback, wanted, calc), 0
        else:
            plans, revisions_written = self._run_database(feedback, wanted, calc)
        if feedback.isCanceled():
            return {}
        found = {p.bin for p in plans}
        missing = [b for b in wanted if b not in found]
        if missing:
            raise QgsProcessingException(
                f"No live building with these BINs in '{self._source.layer_name}': "
                + ", ".join(missing[:20]) + ("…" if len(missing) > 20 else "") + ". Nothing was changed.")
        self._plans = plans

        fields = report_fields()
        sink, dest = self.parameterAsSink(parameters, self.OUTPUT, context, fields, QgsWkbTypes.MultiPolygon,
                                          QgsCoordinateReferenceSystem("EPSG:4326"))
        if sink is None:
            raise QgsProcessingException(self.invalidSinkError(parameters, self.OUTPUT))
        for item in plans:
            feature = QgsFeature(fields)
            share = item.area_change_share
            feature.setAttributes([
                item.bin, item.status, item.valid_before, item.problem, item.area_before, item.area_after,
                item.area_change, None if share is None else share * 100.0, _float(item.estimated_before),
                _float(item.estimated_after), item.vertices_removed, item.parts_before, item.parts_after])
            if item.geometry is not None:
                feature.setGeometry(item.geometry)
            sink.addFeature(feature, QgsFeatureSink.FastInsert)
            if item.status in ("repaired", "would repair") and share is not None and abs(share) > 0.01:
                feedback.pushWarning(
                    f"Building {item.bin}: area {item.area_before:.2f} m² -> {item.area_after:.2f} m² "
                    f"({share * 100:+.1f} %). {item.problem}")
            elif item.status == "not repairable":
                feedback.reportError(f"Building {item.bin} not repaired: {item.problem}.")
        counts = {
            self.REPAIRED: sum(p.status in ("repaired", "would repair") for p in plans),
            self.UNCHANGED: sum(p.status == "unchanged" for p in plans),
            self.NOT_REPAIRABLE: sum(p.status == "not repairable" for p in plans),
        }
        verb = "would be repaired (dry run)" if self._dry_run else f"repaired in the {self._mode}"
        feedback.pushInfo(f"{counts[self.REPAIRED]} footprint(s) {verb}; {counts[self.UNCHANGED]} needed "
                          f"nothing; {counts[self.NOT_REPAIRABLE]} could not be repaired.")
        feedback.setProgress(100)
        return {self.OUTPUT: dest, self.REVISIONS: revisions_written,
                self.MODE: "dry run: nothing written" if self._dry_run else self._mode, **counts}

    def _plan_buffer(self, parameters, context, feedback, wanted, calc):
        from .footprint_repair import plan_repair

        # Invalid footprints are what this tool is for: never let Processing skip or refuse them.
        previous = context.invalidGeometryCheck()
        context.setInvalidGeometryCheck(QgsFeatureRequest.GeometryNoCheck)
        try:
            source = self.parameterAsSource(parameters, self.INPUT, context)
        finally:
            context.setInvalidGeometryCheck(previous)
        request = QgsFeatureRequest()
        if self._bins:
            request.setFilterExpression(
                '"bin" IN (' + ", ".join(QgsExpression.quotedValue(b) for b in self._bins) + ")")
        if source.fields().indexOf("deleted_at") >= 0:
            request.combineFilterExpression('"deleted_at" IS NULL')
        total = len(self._bins) if self._bins else (source.featureCount() or 1)
        plans = []
        for number, feature in enumerate(source.getFeatures(request)):
            if feedback.isCanceled():
                return []
            area = _value(feature["estimated_area"]) if self._area_index >= 0 else None
            plans.append(plan_repair(str(feature["bin"]), feature.geometry(), area, calc,
                                     fid=feature.id(), dry_run=self._dry_run))
            feedback.setProgress(80 * (number + 1) / total)
        return plans

    def _run_database(self, feedback, wanted, calc):
        from ..imis_plugin import db, revisions
        from .footprint_repair import RepairError, apply_in_database, plan_from_rows, read_footprints

        try:
            conn = db.connect_uri(self._source.uri, application_name="QGIS IMIS repair footprints")
        except db.ImisDbError as error:
            raise QgsProcessingException(str(error)) from None
        written = 0
        try:
            with conn.cursor() as cur:
                if self._dry_run:
                    cur.execute("SET TRANSACTION READ ONLY")
                rows = read_footprints(cur, wanted, lock=not self._dry_run, feedback=feedback)
                plans = plan_from_rows(rows, calc, self._dry_run, feedback)
                if not self._dry_run and not feedback.isCanceled() and len(rows) == len(wanted):
                    cur.execute("SELECT 1 FROM auth.users WHERE id = %s AND deleted_at IS NULL",
                                (self._user_id,))
                    if cur.fetchone() is None:
                        raise RepairError(f"IMIS user id {self._user_id} is not a live user in auth.users "
                                          "(IMIS menu > IMIS database settings).")
                    now = revisions.local_now(self._timezone)
                    written = apply_in_database(cur, plans, self._user_id, now, feedback)
            if self._dry_run or feedback.isCanceled() or len(rows) != len(wanted):
                conn.rollback()
                written = 0
            else:
                conn.commit()
            return plans, written
        except (RepairError, ValueError, db.QueryCancelled) as error:
            conn.rollback()
            raise QgsProcessingException(f"{error} Nothing was written.") from None
        except db.psycopg2.Error as error:
            conn.rollback()
            first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise QgsProcessingException(
                f"The database refused the repair ({first}). Nothing was written.") from None
        finally:
            conn.close()

    # --- main thread: apply to the edit buffer, refresh the layer ---------------------------
    def postProcessAlgorithm(self, context, feedback):  # noqa: N802
        layer = QgsProcessingUtils.mapLayerFromString(self._source.layer_id, context)
        if self._dry_run or layer is None:
            return {}
        if self._mode == DATABASE:
            layer.dataProvider().reloadData()
            layer.triggerRepaint()
            return {}
        todo = [p for p in self._plans if p.needs_write]
        if not todo:
            return {}
        if not layer.isEditable():
            raise QgsProcessingException(
                f"Layer '{layer.name()}' is no longer being edited: the repairs were not applied.")
        layer.beginEditCommand("Repair building footprints")
        try:
            for item in todo:
                if item.geometry_changed and not layer.changeGeometry(item.fid, item.geometry):
                    raise QgsProcessingException(f"Could not change the footprint of building {item.bin}.")
                if self._area_index >= 0 and not layer.changeAttributeValue(
                        item.fid, self._area_index, float(item.estimated_after)):
                    raise QgsProcessingException(f"Could not set estimated_area of building {item.bin}.")
        except QgsProcessingException:
            layer.destroyEditCommand()
            raise
        layer.endEditCommand()
        feedback.pushInfo(f"{len(todo)} footprint(s) changed in the edit buffer of '{layer.name()}': "
                          "review them, then save the layer edits.")
        return {}
