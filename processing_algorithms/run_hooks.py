"""Finished analysis runs, announced to whoever listens (the plugin's results dock).

Every IMIS analysis calls publish() from postProcessAlgorithm: QGIS calls that on the main
thread after a successful run, wherever the run came from (the Processing toolbox dialog, a
model, processing.run() in the Python console, the plugin's map tools), and before the
toolbox loads the output layers into the project. Without a listener (qgis_process, the demo,
QGIS without the plugin's GUI) publishing does nothing.
"""
from dataclasses import dataclass, field

from qgis.core import QgsMessageLog, Qgis
from qgis.PyQt.QtCore import QCoreApplication, QThread

_LISTENERS = []


@dataclass
class FinishedRun:
    """What a listener gets: the algorithm, its parameters and results, and its context."""

    algorithm_id: str
    display_name: str
    parameters: dict
    results: dict
    context: object  # the QgsProcessingContext of the run: its output layers are still in it
    algorithm: object  # the instance that ran (its parameter and output definitions)
    selections: dict = field(default_factory=dict)  # parameter -> (layer id, selected feature ids)


def add_listener(listener):
    """Call `listener(FinishedRun)` after every successful IMIS analysis run (main thread)."""
    if listener not in _LISTENERS:
        _LISTENERS.append(listener)


def remove_listener(listener):
    if listener in _LISTENERS:
        _LISTENERS.remove(listener)


def publish(run):
    """Hand `run` to the listeners; never lets a listener's failure fail the analysis."""
    application = QCoreApplication.instance()
    # A run in a worker thread (e.g. processing.run() inside a task) cannot reach widgets.
    if not _LISTENERS or application is None or QThread.currentThread() is not application.thread():
        return
    for listener in list(_LISTENERS):
        try:
            listener(run)
        except Exception as error:  # noqa: BLE001 - the run itself succeeded; say so in the log only
            QgsMessageLog.logMessage(f"Showing the result of {run.display_name} failed: {error!r}", "IMIS",
                                     Qgis.Warning)


def selections(parameters, context):
    """{parameter: (layer id, selected feature ids)} of the "selected features only" inputs.

    Main thread (prepareAlgorithm): the selection a run used, so it can be reinstated for a
    second run of the same analysis even after the user selected something else.
    """
    from qgis.core import QgsMapLayer, QgsProcessingFeatureSourceDefinition, QgsProcessingUtils, QgsVectorLayer

    found = {}
    for name, value in parameters.items():
        if not isinstance(value, QgsProcessingFeatureSourceDefinition) or not value.selectedFeaturesOnly:
            continue
        source = value.source.staticValue()
        layer = source if isinstance(source, QgsMapLayer) else QgsProcessingUtils.mapLayerFromString(str(source),
                                                                                                     context)
        if isinstance(layer, QgsVectorLayer):
            found[name] = (layer.id(), sorted(layer.selectedFeatureIds()))
    return found
