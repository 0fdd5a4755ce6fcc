"""Result layers of an analysis on the map: one group per run, IMIS styles, zoom.

Map-tool runs put their outputs here themselves (taken out of the run's context). Runs from
the Processing toolbox are loaded by QGIS; they get the same styles through a layer
post-processor (style_on_load), which QGIS calls once it has added each output layer.
"""
from qgis.core import (QgsCoordinateTransform, QgsFeature, QgsField, QgsProcessingLayerPostProcessorInterface,
                       QgsProject, QgsRectangle, QgsVectorLayer)
from qgis.PyQt.QtCore import QVariant

from ..processing_algorithms import map_styles
from ..processing_algorithms.metric import WGS84

RESULTS_GROUP = "IMIS analysis results"
ZONE_OUTPUT = "OUTPUT_ZONE"
# Outputs drawn as buildings, coloured by the first of these fields they have.
CATEGORY_FIELDS = ("status", "structure_type")
# Top of the run's group first.
ORDER = ("OUTPUT_CONTAINMENTS", "OUTPUT_BUILDINGS", "OUTPUT", "OUTPUT_WARDS", ZONE_OUTPUT)


def category_field(layer):
    names = layer.fields().names()
    return next((name for name in CATEGORY_FIELDS if name in names), None)


def apply_style(output, layer, title, table_order=()):
    """Give an output layer its IMIS style and legend name (main thread)."""
    geometry = layer.geometryType()
    if output == ZONE_OUTPUT:
        map_styles.apply_zone_style(layer, title)
    elif output == "OUTPUT_CONTAINMENTS" or geometry == 0:  # points
        map_styles.apply_imis_style(layer, "containments", title)
    elif output == "OUTPUT_WARDS":
        map_styles.apply_imis_style(layer, "wards", title)
    elif geometry == 2 and category_field(layer):
        field = category_field(layer)
        map_styles.categorize_buildings(layer, field, table_order if field == "structure_type" else (),
                                        f"{title}, by {field.replace('_', ' ')}")
    elif geometry == 2:
        map_styles.apply_imis_style(layer, "buildings", title)
    else:
        layer.setName(title)


def results_group(project=None):
    project = project or QgsProject.instance()
    root = project.layerTreeRoot()
    group = root.findGroup(RESULTS_GROUP)
    if group is None:
        group = root.insertGroup(0, RESULTS_GROUP)
    return group


def add_group(name, layers, project=None):
    """Add {output: layer} as a new group at the top of the results group; older runs are hidden.

    Returns {output: layer id}.
    """
    project = project or QgsProject.instance()
    parent = results_group(project)
    for child in parent.children():
        child.setItemVisibilityChecked(False)
        child.setExpanded(False)
    group = parent.insertGroup(0, name)
    ids = {}
    for output in sorted(layers, key=lambda key: ORDER.index(key) if key in ORDER else len(ORDER)):
        layer = layers[output]
        project.addMapLayer(layer, False)
        group.addLayer(layer)
        ids[output] = layer.id()
    return ids


def display_zone_layer(geometries, crs, distance, target, transform_context):
    """A zone layer for analyses without a zone output (connection candidates): the chosen
    features buffered by the distance, for the map and the council map (display only)."""
    from ..processing_algorithms.zone import display_zone

    to_wgs84 = QgsCoordinateTransform(crs, WGS84, transform_context)
    shapes = []
    for geometry in geometries:
        shape = type(geometry)(geometry)
        shape.transform(to_wgs84)
        shapes.append(shape)
    zone = display_zone(shapes, float(distance))
    layer = QgsVectorLayer("MultiPolygon?crs=EPSG:4326", "Zone", "memory")
    layer.dataProvider().addAttributes([QgsField("distance_m", QVariant.Double), QgsField("method", QVariant.String),
                                        QgsField("target", QVariant.String)])
    layer.updateFields()
    if zone is not None and not zone.isEmpty():
        zone.convertToMultiType()
        feature = QgsFeature(layer.fields())
        feature.setGeometry(zone)
        feature.setAttributes([float(distance), "exact distance (zone drawn for display)", target])
        layer.dataProvider().addFeatures([feature])
    layer.updateExtents()
    return layer


def extent_in(layers, crs, transform_context):
    """The combined extent of `layers` in `crs`, grown by 10 % (None when all are empty)."""
    extent = QgsRectangle()
    for layer in layers:
        if layer is None or not layer.isValid() or layer.featureCount() == 0:
            continue
        layer.updateExtents()
        box = layer.extent()
        if box.isNull():
            continue
        transform = QgsCoordinateTransform(layer.crs(), crs, transform_context)
        extent.combineExtentWith(transform.transformBoundingBox(box))
    if extent.isNull():
        return None
    if extent.width() == 0 or extent.height() == 0:
        extent.grow(max(extent.width(), extent.height(), 0.001))
    return extent.buffered(max(extent.width(), extent.height()) * 0.1)


class StyleOnLoad(QgsProcessingLayerPostProcessorInterface):
    """Styles a toolbox output once QGIS has loaded it (QGIS calls this on the main thread)."""

    def __init__(self, output, title, table_order=()):
        super().__init__()
        self.output, self.title, self.table_order = output, title, tuple(table_order)

    def postProcessLayer(self, layer, context, feedback):  # noqa: N802
        if isinstance(layer, QgsVectorLayer):
            apply_style(self.output, layer, self.title, self.table_order)
