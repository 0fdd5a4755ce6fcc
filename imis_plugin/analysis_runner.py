"""Run a Processing algorithm in the background, on features chosen by a temporary selection.

QGIS 3.22's QgsProcessingFeatureSourceDefinition has no feature filter, only "selected
features only". A run on one clicked feature therefore selects it for a moment: QGIS's
QgsProcessingAlgRunnerTask prepares the algorithm in its constructor (main thread), where the
IMIS analyses take their snapshot of the input and of its selection (processing_algorithms
.inputs.describe); right after, the user's own selection is put back. The user's selection is
never left changed, and the run still uses exactly the clicked feature.

The task runs in QgsApplication.taskManager(): QGIS shows its progress in the status bar and
can cancel it; the window stays usable. Python keeps the task, its context and its feedback
alive until the task has finished (QGIS holds only C++ references to them).
"""
from contextlib import contextmanager

from qgis.core import (QgsApplication, QgsProcessingAlgRunnerTask, QgsProcessingContext, QgsProcessingFeedback,
                       QgsProject)
from qgis.PyQt import sip
from qgis.PyQt.QtCore import QObject, pyqtSignal


class RunRefused(Exception):
    """The run could not start; the message says why, in words for the user."""


class _Feedback(QgsProcessingFeedback):
    """Keeps the run's error messages (called from the worker thread: no widgets here)."""

    def __init__(self):
        super().__init__()
        self.errors = []

    def reportError(self, error, fatalError=False):  # noqa: N802
        self.errors.append(str(error))
        super().reportError(error, fatalError)


@contextmanager
def temporary_selection(selections):
    """Select {layer: feature ids} for the duration, then restore each layer's own selection."""
    saved = []
    try:
        for layer, ids in selections.items():
            saved.append((layer, layer.selectedFeatureIds()))
            layer.selectByIds(list(ids))
        yield
    finally:
        for layer, ids in saved:
            if not sip.isdeleted(layer):
                layer.selectByIds(ids)


def context_key(context):
    """A key for a QgsProcessingContext that survives its Python wrapper (its C++ address)."""
    return sip.unwrapinstance(context)


class BackgroundRun(QObject):
    """One algorithm run in the task manager. `finished(ok, message)` on the main thread."""

    finished = pyqtSignal(bool, str)
    progress = pyqtSignal(float)

    def __init__(self, algorithm_id, parameters, selections=None, parent=None):
        """selections: {QgsVectorLayer: feature ids} to use as "selected features only".

        Raises RunRefused when the algorithm is missing or refuses its parameters.
        """
        super().__init__(parent)
        self.algorithm_id = algorithm_id
        self.parameters = parameters
        self.results = {}
        self.canceled = False
        algorithm = QgsApplication.processingRegistry().createAlgorithmById(algorithm_id)
        if algorithm is None:
            raise RunRefused(f"The Processing algorithm {algorithm_id} is not available: check that the IMIS plugin "
                             "is enabled and up to date (Plugins > Manage and Install Plugins).")
        self.display_name = algorithm.displayName()
        self.context = QgsProcessingContext()
        self.context.setProject(QgsProject.instance())
        self.feedback = _Feedback()
        with temporary_selection(selections or {}):
            ok, message = algorithm.checkParameterValues(parameters, self.context)
            if not ok:
                raise RunRefused(message)
            self.task = QgsProcessingAlgRunnerTask(algorithm, parameters, self.context, self.feedback)
        if self.task.isCanceled():  # prepareAlgorithm failed
            raise RunRefused(self._error() or f"{self.display_name} could not start.")
        self._algorithm = algorithm
        self.key = context_key(self.context)
        self.task.executed.connect(self._executed)
        self.task.progressChanged.connect(self.progress)

    def start(self):
        QgsApplication.taskManager().addTask(self.task)
        return self

    def cancel(self):
        self.canceled = True
        if self.task is not None and not sip.isdeleted(self.task):
            self.task.cancel()

    def _error(self):
        return self.feedback.errors[-1] if self.feedback.errors else ""

    def _executed(self, ok, results):
        self.results = dict(results or {})
        if ok:
            self.finished.emit(True, "")
        elif self.canceled or self.feedback.isCanceled():
            self.finished.emit(False, f"{self.display_name}: cancelled; nothing was added.")
        else:
            self.finished.emit(False, f"{self.display_name} failed: {self._error() or 'see the log (Processing).'}")
