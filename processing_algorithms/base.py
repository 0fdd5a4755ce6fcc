"""Base class of the IMIS analyses: naming, parameter checks, errors, cancel, progress, sinks.

Subclasses implement prepare() (main thread: describe the input layers) and process()
(worker thread: compute and write). AnalysisError becomes the QgsProcessingException QGIS
shows; a cancel stops the run with a plain message.
"""
import configparser
import math
import os

from qgis.core import (
    QgsFeatureSink,
    QgsProcessingAlgorithm,
    QgsProcessingException,
    QgsProcessingParameterNumber,
)

from ..imis_plugin import db
from . import run_hooks
from .errors import AnalysisError

try:
    from psycopg2 import Error as DatabaseError
except ImportError:  # pragma: no cover - psycopg2 missing: only the QGIS path can run
    class DatabaseError(Exception):
        pass


def plugin_version():
    """The version in the plugin's metadata.txt."""
    parser = configparser.ConfigParser()
    parser.read(os.path.join(os.path.dirname(os.path.dirname(__file__)), "metadata.txt"), encoding="utf-8")
    return parser.get("general", "version", fallback="unknown")


class Cancelled(Exception):
    """The user pressed Cancel."""


CANCELLED_MESSAGE = "Cancelled by the user; no result was produced."


def distance_problem(value, label="distance"):
    """None when `value` is a usable distance in metres, else a message saying what is wrong."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return f"The {label} is missing: give a number of metres (0 or more)."
    if isinstance(value, bool):
        return f"The {label} must be a number of metres; got {value!r}."
    try:
        number = float(value)
    except (TypeError, ValueError):
        return f"The {label} must be a number of metres; got {value!r}."
    if math.isnan(number) or math.isinf(number):
        return f"The {label} must be a finite number of metres; got {value!r}."
    if number < 0:
        return f"The {label} must be zero or more metres; got {number:g}."
    return None


class Progress:
    """Weighted progress over named steps, checking cancel at every report."""

    def __init__(self, feedback, weights):
        self.feedback = feedback
        total = float(sum(weights.values())) or 1.0
        self._start, position = {}, 0.0
        for name, weight in weights.items():
            self._start[name] = (position / total * 100.0, weight / total * 100.0)
            position += weight
        self._current = (0.0, 0.0)

    def step(self, name, message=None):
        self.check()
        self._current = self._start[name]
        if message:
            self.feedback.pushInfo(message)
        self.feedback.setProgress(self._current[0])

    def part(self, done, total):
        """Report `done` of `total` within the current step (0 <= done <= total; total may be 0)."""
        self.check()
        start, span = self._current
        self.feedback.setProgress(start + span * (done / total if total else 1.0))

    def check(self):
        if self.feedback.isCanceled():
            raise Cancelled()

    def canceled(self):
        return self.feedback.isCanceled()


class ImisAnalysis(QgsProcessingAlgorithm):
    """Shared behaviour of the plugin's analyses."""

    HELP = ""
    # parameter name -> label used in messages, checked before QGIS's own checks
    DISTANCE_PARAMETERS = {}

    def group(self):
        return "Analyses"

    def groupId(self):  # noqa: N802 (QGIS API)
        return "analyses"

    def shortHelpString(self):  # noqa: N802
        return self.HELP

    def createInstance(self):  # noqa: N802
        return type(self)()

    def distance_parameter(self, name, description, default):
        parameter = QgsProcessingParameterNumber(name, description, QgsProcessingParameterNumber.Double,
                                                 defaultValue=default, minValue=0.0)
        parameter.setMetadata({"widget_wrapper": {"decimals": 2}})
        return parameter

    def checkParameterValues(self, parameters, context):  # noqa: N802
        for name, label in self.DISTANCE_PARAMETERS.items():
            problem = distance_problem(parameters.get(name), label)
            if problem:
                return False, problem
        ok, message = super().checkParameterValues(parameters, context)
        if not ok:
            return ok, message
        # The input checks of prepare() (main thread, cheap): their message reaches the user as
        # the reason the algorithm cannot run, before anything starts. prepare() runs again on
        # the instance that executes.
        try:
            self.prepare(parameters, context, None)
        except AnalysisError as error:
            return False, str(error)
        return True, ""

    # Subclasses implement these two.
    def prepare(self, parameters, context, feedback):
        raise NotImplementedError

    def process(self, parameters, context, feedback):
        raise NotImplementedError

    def prepareAlgorithm(self, parameters, context, feedback):  # noqa: N802
        try:
            self.prepare(parameters, context, feedback)
        except AnalysisError as error:
            raise QgsProcessingException(str(error)) from None
        # For the results dock (run_hooks): what ran, with the selections it used, so the same
        # analysis can be run again (e.g. to write its workbook later).
        self._run_parameters = dict(parameters)
        self._run_selections = run_hooks.selections(parameters, context)
        self._run_results = None
        return True

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        try:
            self._run_results = self.process(parameters, context, feedback)
            return self._run_results
        except (Cancelled, db.QueryCancelled):
            raise QgsProcessingException(CANCELLED_MESSAGE) from None
        except (AnalysisError, db.ImisDbError) as error:
            raise QgsProcessingException(str(error)) from None
        except DatabaseError as error:
            first = (str(error).strip().splitlines() or ["unknown error"])[0]
            raise QgsProcessingException(f"The IMIS database could not run the analysis: {first}") from None

    def postProcessAlgorithm(self, context, feedback):  # noqa: N802
        # Main thread, after a successful run and before the toolbox loads the outputs.
        results = getattr(self, "_run_results", None)
        if results is not None:
            run_hooks.publish(run_hooks.FinishedRun(
                self.id(), self.displayName(), self._run_parameters, dict(results), context, self,
                self._run_selections))
        return {}  # empty: QGIS keeps the results of processAlgorithm

    def sink(self, parameters, name, context, fields, geometry_type, crs):
        """(sink, destination id); (None, None) when an optional output was skipped."""
        sink, destination = self.parameterAsSink(parameters, name, context, fields, geometry_type, crs)
        if sink is None:
            definition = self.parameterDefinition(name)
            if definition.flags() & definition.FlagOptional and parameters.get(name) in (None, ""):
                return None, None
            raise QgsProcessingException(self.invalidSinkError(parameters, name))
        return sink, destination


def add_features(sink, features, feedback=None, batch=5000):
    """Write `features` to `sink` in batches, checking cancel between batches."""
    if sink is None:
        return
    buffer = []
    for feature in features:
        buffer.append(feature)
        if len(buffer) >= batch:
            if feedback is not None and feedback.isCanceled():
                raise Cancelled()
            sink.addFeatures(buffer, QgsFeatureSink.FastInsert)
            buffer = []
    if buffer:
        sink.addFeatures(buffer, QgsFeatureSink.FastInsert)


def first_values(values, limit=10):
    """The first `limit` values as text, with how many more there are (for messages)."""
    values = list(values)
    shown = ", ".join(str(value) for value in values[:limit])
    return shown + (f" and {len(values) - limit} more" if len(values) > limit else "")


def write_table_output(algorithm, parameters, name, context, table):
    """Write `table` (header row, then rows; first column text, the rest integers) to sink `name`."""
    from qgis.core import QgsFeature, QgsField, QgsFields, QgsWkbTypes
    from qgis.PyQt.QtCore import QVariant

    from .metric import WGS84

    headers, rows = table[0], table[1:]
    fields = QgsFields()
    for index, header in enumerate(headers):
        fields.append(QgsField(header, QVariant.String if index == 0 else QVariant.Int))
    sink, destination = algorithm.sink(parameters, name, context, fields, QgsWkbTypes.NoGeometry, WGS84)
    if sink is None:
        return {}
    for row in rows:
        feature = QgsFeature(fields)
        feature.setAttributes(row)
        sink.addFeature(feature)
    return {name: destination}
