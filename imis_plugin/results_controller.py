"""What the results dock does: runs analyses in the background, shows every IMIS analysis result,
puts the map-tool results on the map, exports the workbook and makes the council map.

How results reach the dock: every IMIS analysis announces its finished runs from
postProcessAlgorithm (processing_algorithms/run_hooks.py), on the main thread, for runs from
the toolbox, models, the Python console and the map tools alike. The controller listens; it
recognises its own runs by their Processing context and then takes their output layers into
the project itself (one group per run, IMIS styles). Toolbox outputs are loaded by QGIS as the
user asked in the dialog; the controller only attaches IMIS styles to them.

"Export to Excel" writes the very workbook the algorithm writes: it copies the run's own
workbook when the run wrote one, else runs the same analysis again with the same inputs and
selections, now with its Excel output (a background task, like the first run).
"""
import os
import shutil
from dataclasses import dataclass, field

from qgis.core import Qgis, QgsFeature, QgsField, QgsProject, QgsSettings, QgsVectorLayer
from qgis.PyQt.QtCore import QObject, QUrl, QVariant
from qgis.PyQt.QtGui import QDesktopServices
from qgis.PyQt.QtWidgets import QFileDialog

from ..processing_algorithms import run_hooks
from . import result_layers
from .analysis_results import TEMPORARY_OUTPUT, WORKBOOK, from_run
from .analysis_runner import BackgroundRun, RunRefused, context_key
from .layers import find_layer

TITLE = "IMIS"
RETIRED_KEPT = 8  # finished runs kept a little longer: QGIS may still hold their context while it tidies up
_DRAINING = set()  # runs still going after the plugin was unloaded: kept alive until their task ends
FOLDER_SETTING = "imis/results/last_folder"
COUNCIL_MAP = "imis:councilmap"


@dataclass
class AnalysisRequest:
    """An analysis a map tool asks for."""

    algorithm_id: str
    parameters: dict
    selections: dict  # {QgsVectorLayer: feature ids} used as "selected features only"
    subject: str  # e.g. "River 'Rupsha' (id 3), 100 m"
    map_title: str = ""  # council map title
    zone: object = None  # (geometries, crs, distance, target) to draw a zone when the analysis has none
    building_filter: str = ""  # expression limiting the buildings output on the map (e.g. one ward)


@dataclass
class _Job:
    run: BackgroundRun
    purpose: str  # "analysis", "workbook" or "council map"
    request: AnalysisRequest = None
    path: str = ""
    result: object = None  # the AnalysisResult a workbook run writes for
    keep: list = field(default_factory=list)  # objects the task needs alive (memory tables)


def _ask_path(parent, caption, name, file_filter):
    settings = QgsSettings()
    folder = settings.value(FOLDER_SETTING, os.path.expanduser("~"), type=str)
    path, _ = QFileDialog.getSaveFileName(parent, caption, os.path.join(folder, name), file_filter)
    if path:
        settings.setValue(FOLDER_SETTING, os.path.dirname(path))
    return path


def _with_suffix(path, suffix):
    return path if path.lower().endswith(suffix) else path + suffix


def table_layer(table):
    """A memory table of a result table (for the council map, which reads tables as layers)."""
    layer = QgsVectorLayer("None", table.title, "memory")
    fields = []
    for index, header in enumerate(table.headers):
        values = [row[index] for row in table.rows if row[index] is not None]
        if index > 0 and values and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            kind = QVariant.Int
        elif index > 0 and values and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            kind = QVariant.Double
        else:
            kind = QVariant.String
        fields.append(QgsField(header, kind))
    layer.dataProvider().addAttributes(fields)
    layer.updateFields()
    features = []
    for row in table.rows:
        feature = QgsFeature(layer.fields())
        feature.setAttributes(list(row))
        features.append(feature)
    layer.dataProvider().addFeatures(features)
    return layer


class ResultsController(QObject):
    def __init__(self, iface, dock, parent=None):
        super().__init__(parent)
        self.iface = iface
        self.dock = dock
        self.current = None  # AnalysisResult shown in the dock
        self._jobs = {}  # context key -> _Job
        self._retired = []
        self._closed = False
        self._styles = []  # layer post-processors QGIS holds only as C++ pointers
        run_hooks.add_listener(self.on_finished_run)
        dock.zoomRequested.connect(self.zoom_to_result)
        dock.exportRequested.connect(self.export_excel)
        dock.councilMapRequested.connect(self.council_map)
        dock.cancelRequested.connect(self.cancel)

    def close(self):
        """Stop listening and cancel the runs; a run's task may still be finishing, so the run
        (which owns the task's context) is kept alive until it has."""
        self._closed = True
        run_hooks.remove_listener(self.on_finished_run)
        for job in list(self._jobs.values()):
            _DRAINING.add(job.run)
            job.run.finished.connect(lambda ok, message, run=job.run: _DRAINING.discard(run))
            job.run.cancel()
        self._jobs = {}

    def running(self):
        return [job.run for job in self._jobs.values()]

    # -- messages ---------------------------------------------------------------------
    def _bar(self):
        return self.iface.messageBar()

    def warn(self, text):
        self._bar().pushMessage(TITLE, text, level=Qgis.Warning, duration=10)

    def info(self, text):
        self._bar().pushMessage(TITLE, text, level=Qgis.Info, duration=6)

    def _done(self, text, path):
        """Success message with a link that opens the file."""
        bar = self._bar()
        url = QUrl.fromLocalFile(path).toString()
        bar.pushMessage(TITLE, f'{text} <a href="{url}">{path}</a>', level=Qgis.Success, duration=15)

    # -- running ----------------------------------------------------------------------
    def _start(self, algorithm_id, parameters, selections, purpose, **job):
        try:
            run = BackgroundRun(algorithm_id, parameters, selections)
        except RunRefused as refused:
            self.warn(str(refused))
            return None
        self._jobs[run.key] = _Job(run, purpose, **job)
        run.finished.connect(lambda ok, message, key=run.key: self._finished(key, ok, message))
        run.progress.connect(self.dock.show_progress)
        what = {"analysis": "", "workbook": " (Excel workbook)", "council map": ""}[purpose]
        self.dock.show_running(f"Running {run.display_name}{what}…")
        self.dock.show()
        self.dock.raise_()
        return run.start()

    def run_analysis(self, request):
        """Start a map tool's analysis in the background; returns the BackgroundRun (or None)."""
        return self._start(request.algorithm_id, request.parameters, request.selections, "analysis", request=request)

    def cancel(self):
        for job in self._jobs.values():
            job.run.cancel()

    def _finished(self, key, ok, message):
        if self._closed:
            return
        job = self._jobs.pop(key, None)
        if not self._jobs:
            self.dock.show_idle()
        if job is None:
            return
        self._retired = (self._retired + [job])[-RETIRED_KEPT:]
        if not ok:
            if job.run.canceled:
                self.info(message)
            else:
                self.warn(message)
            return
        if job.purpose == "workbook":
            job.result.workbook = job.path  # a later export of that result copies it
            self._done("Excel workbook written:", job.path)
        elif job.purpose == "council map":
            self._done("Council map written:", job.path)

    # -- results ----------------------------------------------------------------------
    def on_finished_run(self, finished):
        """run_hooks listener: a finished IMIS analysis run (main thread)."""
        job = self._jobs.get(context_key(finished.context))
        if job is not None and job.purpose != "analysis":
            return  # a second run to write the workbook: the dock already shows this result
        if job is not None:
            result = from_run(finished, job.request.subject, from_map_tool=True)
            self._add_to_map(finished, result, job.request)
        else:
            result = from_run(finished)
            self._style_toolbox_outputs(finished, result)
        self.show(result)

    def show(self, result):
        self.current = result
        self.dock.show_result(result, self._council_map_problem(result))
        self.dock.show()
        self.dock.raise_()

    def _table_order(self, result):
        first = result.tables[0] if result.tables else None
        return [str(row[0]) for row in first.rows] if first is not None else []

    def _add_to_map(self, finished, result, request):
        layers = {}
        for output, layer_id in list(result.layer_outputs.items()):
            layer = finished.context.takeResultLayer(layer_id)
            if layer is None:
                continue
            definition = finished.algorithm.parameterDefinition(output)
            result_layers.apply_style(output, layer, definition.description(), self._table_order(result))
            if request.building_filter and output in ("OUTPUT_BUILDINGS", "OUTPUT"):
                layer.setSubsetString(request.building_filter)
            layers[output] = layer
        if request.zone is not None and result_layers.ZONE_OUTPUT not in layers:
            geometries, crs, distance, target = request.zone
            zone = result_layers.display_zone_layer(geometries, crs, distance, target,
                                                    QgsProject.instance().transformContext())
            result_layers.apply_style(result_layers.ZONE_OUTPUT, zone, f"Within {float(distance):g} m of {target}")
            layers[result_layers.ZONE_OUTPUT] = zone
        result.layer_outputs = result_layers.add_group(result.subject, layers)
        result.map_title = request.map_title
        self.zoom_to_result(result)

    def _style_toolbox_outputs(self, finished, result):
        context = finished.context
        for output, layer_id in result.layer_outputs.items():
            if not context.willLoadLayerOnCompletion(layer_id):
                continue
            definition = finished.algorithm.parameterDefinition(output)
            style = result_layers.StyleOnLoad(output, definition.description(), self._table_order(result))
            self._styles = (self._styles + [style])[-50:]  # QGIS calls them right after the run
            context.layerToLoadOnCompletionDetails(layer_id).setPostProcessor(style)

    def result_layer(self, output, result=None):
        """The project layer of an output of the shown result, or None."""
        result = result or self.current
        value = result.layer_outputs.get(output) if result is not None else None
        if not value:
            return None
        project = QgsProject.instance()
        layer = project.mapLayer(value)
        if layer is not None:
            return layer
        for candidate in project.mapLayers().values():  # a file output QGIS loaded
            if candidate.source() == value or candidate.source().split("|")[0] == value:
                return candidate
        return None

    def _zone_and_buildings(self, result):
        zone = self.result_layer(result_layers.ZONE_OUTPUT, result) or self.result_layer("OUTPUT_WARDS", result)
        buildings = self.result_layer("OUTPUT_BUILDINGS", result) or self.result_layer("OUTPUT", result)
        return zone, buildings

    def _council_map_problem(self, result):
        zone, buildings = self._zone_and_buildings(result)
        if result.from_map_tool and (zone is None or buildings is None):
            return "This result has no zone layer to draw."
        if not result.tables:
            return "This result has no summary table."
        return ""

    def zoom_to_result(self, result=None):
        result = result if result is not None and not isinstance(result, bool) else self.current
        if result is None:
            return
        zone, buildings = self._zone_and_buildings(result)
        layers = [layer for layer in (zone, buildings) if layer is not None]
        if not layers:
            self.warn("The result layers are not in the project (any more): run the analysis again to see them.")
            return
        canvas = self.iface.mapCanvas()
        extent = result_layers.extent_in(layers[:1] if zone is not None else layers,
                                         canvas.mapSettings().destinationCrs(),
                                         QgsProject.instance().transformContext())
        if extent is None:
            self.info("The result is empty: nothing to zoom to.")
            return
        canvas.setExtent(extent)
        canvas.refresh()

    # -- Excel ------------------------------------------------------------------------
    def export_excel(self, path=None):
        result = self.current
        if result is None:
            return None
        path = path if isinstance(path, str) and path else _ask_path(
            self.dock, "Export to Excel", result.workbook_name(), "Excel workbook (*.xlsx)")
        if not path:
            return None
        path = _with_suffix(path, ".xlsx")
        if result.workbook and os.path.isfile(result.workbook):
            if os.path.abspath(result.workbook) != os.path.abspath(path):
                shutil.copyfile(result.workbook, path)
            self._done("Excel workbook written:", path)
            return None
        parameters, selections, problem = self._rerun_inputs(result)
        if problem:
            self.warn(problem)
            return None
        parameters[WORKBOOK] = path
        return self._start(result.algorithm_id, parameters, selections, "workbook", path=path, result=result)

    def _rerun_inputs(self, result):
        """(parameters, {layer: ids}, problem) to run the shown analysis again, outputs discarded."""
        from qgis.core import QgsApplication

        algorithm = QgsApplication.processingRegistry().algorithmById(result.algorithm_id)
        if algorithm is None:
            return None, None, f"The algorithm {result.algorithm_id} is not available any more."
        parameters = dict(result.parameters)
        for definition in algorithm.destinationParameterDefinitions():
            optional = definition.flags() & definition.FlagOptional
            parameters[definition.name()] = None if optional else TEMPORARY_OUTPUT
        selections = {}
        project = QgsProject.instance()
        for name, (layer_id, ids) in result.selections.items():
            layer = project.mapLayer(layer_id)
            if layer is None:
                return None, None, ("The layer the analysis used was removed from the project: run the analysis "
                                    "again to export it.")
            selections[layer] = ids
        return parameters, selections, ""

    # -- council map ------------------------------------------------------------------
    def council_map(self, path=None):
        result = self.current
        if result is None:
            return None
        problem = self._council_map_problem(result)
        zone, buildings = self._zone_and_buildings(result)
        if problem or zone is None or buildings is None:
            self.warn(problem or "The result layers are not in the project (any more): run the analysis again, "
                                 "or load its outputs, to make a council map.")
            return None
        path = path if isinstance(path, str) and path else _ask_path(
            self.dock, "Council map", "Council map.pdf", "PDF (*.pdf)")
        if not path:
            return None
        path = _with_suffix(path, ".pdf")
        tables = [table_layer(table) for table in result.tables[:2]]
        containments = self.result_layer("OUTPUT_CONTAINMENTS", result)
        water = [layer for layer in (find_layer("rivers"), find_layer("ponds")) if layer is not None]
        parameters = {
            "ZONE": zone.id(), "RESULT_BUILDINGS": buildings.id(),
            "RESULT_CONTAINMENTS": containments.id() if containments is not None else None,
            "SUMMARY": tables[0], "CONTAINMENT_SUMMARY": tables[1] if len(tables) > 1 else None,
            "WATERBODIES": [layer.id() for layer in water],
            "TITLE": result.map_title,
            "OUTPUT_PDF": path, "OUTPUT_PNG": os.path.splitext(path)[0] + ".png",
        }
        if "status" in buildings.fields().names():
            parameters["CATEGORY_FIELD"] = "status"
        for name, key in (("ROADS", "roads"), ("WARDS", "wards"), ("CITY", "city")):
            layer = find_layer(key)
            parameters[name] = layer.id() if layer is not None else None
        return self._start(COUNCIL_MAP, parameters, {}, "council map", path=path, keep=tables)
