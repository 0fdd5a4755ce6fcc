"""Styles of the layers on IMIS maps: the styles/*.qml files "Load IMIS layers" uses.

Base layers get the style file of their IMIS layer key (imis_plugin.layers.MAP_LAYERS), so a
council map looks like the layers a planner loads. Result buildings are coloured by a
category whose values come from the data (lookup labels differ between deployments), drawn
with the building symbol of styles/buildings.qml in one colour per category.
"""
import os

from qgis.core import (QgsCategorizedSymbolRenderer, QgsExpression, QgsProcessingException, QgsRendererCategory)
from qgis.PyQt.QtGui import QColor

from ..imis_plugin.layers import MAP_LAYERS, STYLE_DIR

SPECS = {spec.key: spec for spec in MAP_LAYERS}
ZONE_STYLE = os.path.join(STYLE_DIR, "analysis_zone.qml")
NOT_RECORDED = "Not recorded"
# Print-safe qualitative colours, chosen away from the water blues and the containment red.
PALETTE = ["#d95f02", "#7570b3", "#1b9e77", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#4d4d4d",
           "#b15928", "#6a3d9a", "#33a02c", "#fb9a99"]
NOT_RECORDED_COLOR = "#c8c8c8"


def load_style(layer, path):
    message, ok = layer.loadNamedStyle(path)
    if not ok:
        raise QgsProcessingException(f"The map style {os.path.basename(path)} could not be loaded: {message}")


def apply_imis_style(layer, key, title=None):
    """Style `layer` as the IMIS layer `key` (e.g. "rivers") and give it its legend name."""
    spec = SPECS[key]
    load_style(layer, spec.style_path)
    layer.setName(title or spec.title)


def apply_zone_style(layer, title):
    load_style(layer, ZONE_STYLE)
    layer.setName(title)


def category_expression(field):
    return f"coalesce(trim(to_string({QgsExpression.quotedColumnRef(field)})), '')"


def categorize_buildings(layer, field, order=(), title=None):
    """Colour `layer` by `field`: categories in `order` first, then the rest, blank values last.

    Returns the category labels in legend order.
    """
    load_style(layer, SPECS["buildings"].style_path)
    base = layer.renderer().symbol()
    index = layer.fields().lookupField(field)
    if index < 0:
        raise QgsProcessingException(f"{layer.name()}: there is no field '{field}' to colour the buildings by.")
    values = {("" if v is None or str(v).strip() in ("", "NULL") else str(v).strip())
              for v in layer.uniqueValues(index)}
    ordered = [v for v in order if v in values and v != ""]
    ordered += sorted(v for v in values if v not in ordered and v != "")
    categories = []
    for i, value in enumerate(ordered + ([""] if "" in values else [])):
        color = QColor(NOT_RECORDED_COLOR if value == "" else PALETTE[i % len(PALETTE)])
        symbol = base.clone()
        symbol.setColor(color)
        symbol.symbolLayer(0).setStrokeColor(color.darker(170))
        categories.append(QgsRendererCategory(value, symbol, value or NOT_RECORDED))
    renderer = QgsCategorizedSymbolRenderer(category_expression(field), categories)
    layer.setRenderer(renderer)
    if title:
        layer.setName(title)
    return [c.label() for c in categories]
