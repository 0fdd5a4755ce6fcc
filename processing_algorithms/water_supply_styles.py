"""Map styles of the water supply coverage outputs, applied when QGIS loads them.

Buildings by status class (categorized: blue served, orange to check, light blue potential
customers, red where the network must grow); wards as a choropleth of the share of connected
buildings (fixed 20 % classes, so maps of different towns or dates compare).
"""
from qgis.core import (
    QgsCategorizedSymbolRenderer,
    QgsFillSymbol,
    QgsGraduatedSymbolRenderer,
    QgsProcessingLayerPostProcessorInterface,
    QgsRendererCategory,
    QgsRendererRange,
)

from .water_coverage import CONNECTED, CONNECTED_NO_PIPE, OUT_OF_REACH, POTENTIAL, STATUS_LABELS

STATUS_COLOURS = {CONNECTED: "#2c7bb6", CONNECTED_NO_PIPE: "#fdae61", POTENTIAL: "#abd9e9", OUT_OF_REACH: "#d7191c"}
COVERAGE_CLASSES = ((0, 20, "#f1eef6"), (20, 40, "#bdc9e1"), (40, 60, "#74a9cf"), (60, 80, "#2b8cbe"),
                    (80, 100, "#045a8d"))


def _fill(colour, outline="#636363", width="0.1"):
    return QgsFillSymbol.createSimple({"color": colour, "outline_color": outline, "outline_width": width})


def buildings_renderer(field="status"):
    categories = [QgsRendererCategory(STATUS_LABELS[key], _fill(colour, "#4d4d4d", "0.05"), STATUS_LABELS[key])
                  for key, colour in STATUS_COLOURS.items()]
    return QgsCategorizedSymbolRenderer(field, categories)


def wards_renderer(field="coverage_pct"):
    ranges = [QgsRendererRange(low, high, _fill(colour, "#252525", "0.3"), f"{low} - {high} % connected")
              for low, high, colour in COVERAGE_CLASSES]
    return QgsGraduatedSymbolRenderer(field, ranges)


class StylePostProcessor(QgsProcessingLayerPostProcessorInterface):
    """Sets a renderer on an output layer once QGIS has loaded it (main thread)."""

    def __init__(self, make_renderer):
        super().__init__()
        self.make_renderer = make_renderer

    def postProcessLayer(self, layer, context, feedback):  # noqa: N802 (QGIS API)
        if layer is not None and layer.isValid():
            layer.setRenderer(self.make_renderer())
            layer.triggerRepaint()


# QGIS keeps only a pointer to a post-processor: the Python objects must outlive the run.
_KEPT = []


def style_on_load(context, destination, make_renderer):
    """Style output `destination` when QGIS loads it (nothing when it is not loaded)."""
    if not destination or not context.willLoadLayerOnCompletion(destination):
        return
    processor = StylePostProcessor(make_renderer)
    _KEPT.append(processor)
    del _KEPT[:-16]
    context.layerToLoadOnCompletionDetails(destination).setPostProcessor(processor)
