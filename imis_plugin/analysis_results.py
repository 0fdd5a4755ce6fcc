"""An analysis result as the results dock shows it: tables, totals, layers, how to re-run it.

Built on the main thread from a finished run (processing_algorithms.run_hooks.FinishedRun),
generically from the algorithm's own definitions: every sink without geometry is a table,
every sink with geometry a map layer, every number output a total. So the four analyses of
the map tools, and any later IMIS analysis, show without code of their own here.
"""
import datetime
from dataclasses import dataclass, field

from qgis.core import (QgsFeatureRequest, QgsProcessing, QgsProcessingFeatureSourceDefinition,
                       QgsProcessingOutputNumber, QgsProcessingOutputString,
                       QgsProcessingParameterFeatureSink, QgsProcessingParameterFileDestination, QgsProcessingUtils,
                       QgsVectorLayer)

from ..processing_algorithms.summary import SANITATION_COLUMNS

SANITATION_HEADERS = frozenset(header for _, header in SANITATION_COLUMNS)
TEMPORARY_OUTPUT = "TEMPORARY_OUTPUT"
WORKBOOK = "OUTPUT_XLSX"

# Workbook file names: IMIS's where IMIS has the tool (ANALYSES.md 6.1), else in the same style.
WORKBOOK_NAMES = {
    "imis:waterbodybuffer": ("Summary Information Buffer Water Body Polygon.xlsx",
                             "Summary Information buildings close to waterbodys.xlsx"),
    "imis:pointbuffer": ("Point Buffer Summary Information.xlsx",) * 2,
    "imis:connectioncandidates": ("Potential buildings Buffer Summary Information.xlsx",) * 2,
    "imis:watersupplycoverage": ("Water Supply Coverage Summary Information.xlsx",) * 2,
}


def plain(value):
    """A layer attribute as plain Python (NULL -> None)."""
    if value is None or (hasattr(value, "isNull") and value.isNull()):
        return None
    return value


@dataclass
class ResultTable:
    output: str  # the algorithm's output name (e.g. OUTPUT_SUMMARY)
    title: str
    headers: list
    rows: list  # lists of plain values

    def zero_columns(self):
        """Sanitation columns that are 0 in every row: IMIS's popup hides them (ANALYSES.md 4.6)."""
        hidden = []
        for index, header in enumerate(self.headers):
            if header in SANITATION_HEADERS and all((row[index] or 0) == 0 for row in self.rows):
                hidden.append(index)
        return hidden


@dataclass
class AnalysisResult:
    algorithm_id: str
    title: str  # the analysis (algorithm display name)
    subject: str  # what it was run on, e.g. "River 'Rupsha' (id 3), 100 m"
    parameters: dict
    results: dict
    selections: dict
    tables: list = field(default_factory=list)  # ResultTables
    totals: list = field(default_factory=list)  # (label, value)
    layer_outputs: dict = field(default_factory=dict)  # output name -> layer id or source of the output
    from_map_tool: bool = False
    finished: datetime.datetime = field(default_factory=datetime.datetime.now)
    workbook: str = ""  # a workbook this run (or a later export) wrote
    map_title: str = ""  # council map title (map tools); empty: the council map derives one

    def table(self, output):
        return next((table for table in self.tables if table.output == output), None)

    def workbook_name(self):
        names = WORKBOOK_NAMES.get(self.algorithm_id)
        if not names:
            return self.title + ".xlsx"
        return names[0] if self.selections else names[1]


def _rows(layer):
    request = QgsFeatureRequest().setFlags(QgsFeatureRequest.NoGeometry)
    return [[plain(value) for value in feature.attributes()] for feature in layer.getFeatures(request)]


def output_layer(value, context):
    """The output layer a result value names (a layer id in the run's context or project, or a file)."""
    if isinstance(value, QgsVectorLayer):
        return value
    if not value:
        return None
    layer = QgsProcessingUtils.mapLayerFromString(str(value), context)
    return layer if isinstance(layer, QgsVectorLayer) and layer.isValid() else None


def describe_subject(run):
    """What a toolbox run was run on, in words: its first input and its distance."""
    parts = []
    definitions = run.algorithm.parameterDefinitions()
    first = definitions[0].name() if definitions else None
    if first in run.selections:
        layer_id, ids = run.selections[first]
        parts.append(f"{len(ids)} selected feature{'s' if len(ids) != 1 else ''} of {_layer_name(layer_id)}")
    elif first is not None and run.parameters.get(first) not in (None, ""):
        value = run.parameters[first]
        if isinstance(value, QgsProcessingFeatureSourceDefinition):
            value = value.source.staticValue()
        layer = output_layer(value, run.context)
        parts.append(f"all of '{layer.name()}'" if layer is not None else str(value))
    distance = run.parameters.get("DISTANCE")
    try:
        parts.append(f"{float(distance):g} m")
    except (TypeError, ValueError):
        pass
    return ", ".join(parts)


def _layer_name(layer_id):
    from qgis.core import QgsProject

    layer = QgsProject.instance().mapLayer(layer_id)
    return f"'{layer.name()}'" if layer is not None else "a layer"


def from_run(run, subject=None, from_map_tool=False):
    """AnalysisResult of a finished run (main thread; its output layers are still in its context)."""
    algorithm = run.algorithm
    result = AnalysisResult(run.algorithm_id, run.display_name, subject or describe_subject(run),
                            dict(run.parameters), dict(run.results), dict(run.selections),
                            from_map_tool=from_map_tool)
    for definition in algorithm.parameterDefinitions():
        name = definition.name()
        value = run.results.get(name)
        if isinstance(definition, QgsProcessingParameterFeatureSink) and value:
            if definition.dataType() == QgsProcessing.TypeVector:
                layer = output_layer(value, run.context)
                if layer is not None:
                    result.tables.append(ResultTable(name, definition.description(), layer.fields().names(),
                                                     _rows(layer)))
            else:
                result.layer_outputs[name] = value.id() if isinstance(value, QgsVectorLayer) else str(value)
        elif isinstance(definition, QgsProcessingParameterFileDestination) and name == WORKBOOK and value:
            result.workbook = str(value)
    for output in algorithm.outputDefinitions():
        value = run.results.get(output.name())
        if isinstance(output, QgsProcessingOutputNumber) and value is not None:
            result.totals.append((output.description(), value))
        elif isinstance(output, QgsProcessingOutputString) and output.name() == "EXECUTION" and value:
            result.totals.append(("Ran in", value))
    return result
