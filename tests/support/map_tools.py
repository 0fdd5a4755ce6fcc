"""The IMIS map tools in the GUI tests: the sample town on the map, clicks, the distance dialog,
waiting for results, and what the results dock shows."""
import pytest
from qgis.core import QgsCoordinateReferenceSystem, QgsProcessingFeatureSourceDefinition, QgsSettings
from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtTest import QTest
from qgis.PyQt.QtWidgets import QDialogButtonBox

from tests.support.analysis import run
from tests.support.gui import click_lonlat, lay_out_window, process_events, wait_until, zoom_to

UTM_45N = QgsCoordinateReferenceSystem("EPSG:32645")


@pytest.fixture
def town(imis_plugin, qgis_iface, saved_connection, clean_project):
    """The sample town's IMIS layers from PostGIS on a UTM map, the plugin's toolbar and dock in the window."""
    from qgis.core import QgsApplication
    from qgis.gui import QgsLayerTreeMapCanvasBridge

    from imis.imis_plugin.layers import load_imis_layers

    canvas = qgis_iface.mapCanvas()
    bridge = QgsLayerTreeMapCanvasBridge(clean_project.layerTreeRoot(), canvas)  # layer order as in QGIS
    logged = []

    def log(message, tag, level):
        if tag == "IMIS":
            logged.append(message)

    QgsApplication.messageLog().messageReceived.connect(log)
    layers, problems = load_imis_layers(connection_name=saved_connection)
    assert not problems
    canvas.setDestinationCrs(UTM_45N)
    lay_out_window(qgis_iface, imis_plugin)
    qgis_iface.messageBar().clear_messages()
    for key in ("waterbody", "candidates", "point", "watersupply"):
        QgsSettings().remove(f"imis/map_tools/{key}/distance")
    yield layers
    if imis_plugin.results is not None:  # None once a test unloaded the plugin
        for run_ in imis_plugin.results.running():
            run_.cancel()
        wait_until(lambda: not imis_plugin.results.running(), what="runs to stop")
    canvas.unsetMapTool(canvas.mapTool())
    bridge.deleteLater()
    QgsApplication.messageLog().messageReceived.disconnect(log)
    assert not [message for message in logged if "failed" in message], logged  # e.g. a result the dock could not show


# -- helpers ------------------------------------------------------------------------------
def feature_box(db, table, where, params=()):
    """(xmin, ymin, xmax, ymax) of one row's geometry."""
    return db.query(f"SELECT ST_XMin(g), ST_YMin(g), ST_XMax(g), ST_YMax(g) FROM (SELECT geom g FROM {table} "
                    f"WHERE {where}) x", params)[0]


def isolated_pond(db):
    """(id, lon, lat) of a point inside a live pond that no other water body comes near."""
    return db.query("""
        SELECT w.id, ST_X(ST_PointOnSurface(w.geom)), ST_Y(ST_PointOnSurface(w.geom))
        FROM layer_info.waterbodys w
        WHERE w.deleted_at IS NULL AND lower(btrim(w.type)) = 'pond' AND NOT EXISTS (
            SELECT 1 FROM layer_info.waterbodys o WHERE o.id <> w.id AND ST_DWithin(o.geom, w.geom, 0.0005))
        ORDER BY ST_Area(w.geom) DESC, w.id LIMIT 1""")[0]


def choose(tool, distance):
    """Answer the distance dialog the click opened: type the distance, press Run."""
    dialog = tool.dialog
    wait_until(lambda: dialog is not None and dialog.isVisible(), 10, "the distance dialog")
    dialog.distance.setValue(distance)
    QTest.mouseClick(dialog.buttons.button(QDialogButtonBox.Ok), Qt.LeftButton)
    process_events()
    return dialog


def wait_for_result(plugin, previous=None):
    wait_until(lambda: plugin.results.current is not None and plugin.results.current is not previous
               and not plugin.results.running(), what="the analysis to finish")
    return plugin.results.current


def dock_texts(table_rows_):
    from imis.imis_plugin.results_dock import cell_text

    return [[cell_text(value) for value in row] for row in table_rows_]


class Shown:
    """What the dock shows, captured before anything else (a later run replaces it)."""

    def __init__(self, dock):
        self.result = dock.result
        self.cells = {output: dock.cells(output) for output in dock.tables}
        self.visible = {output: dock.visible_headers(output) for output in dock.tables}
        self.totals = {label: value.text() for label, value in dock.total_values.items()}


def check_toolbox_run_replaced(dock, shown):
    """The reference run (processing.run) shows in the dock too, with the same tables."""
    assert dock.result is not shown.result and not dock.result.from_map_tool
    assert {output: dock.cells(output) for output in dock.tables} == shown.cells


def activate(plugin, key, canvas):
    plugin.map_tools.actions[key].trigger()
    tool = plugin.map_tools.tools[key]
    assert canvas.mapTool() is tool
    return tool


def run_water_body_tool(plugin, iface, db, distance=75.0):
    pond, lon, lat = isolated_pond(db)
    canvas = iface.mapCanvas()
    zoom_to(canvas, feature_box(db, "layer_info.waterbodys", "id = %s", (pond,)), margin=1.0)
    tool = activate(plugin, "waterbody", canvas)
    click_lonlat(canvas, lon, lat)
    dialog = choose(tool, distance)
    return pond, dialog, wait_for_result(plugin)


def reference_run(algorithm, layer, feature_filter, params):
    """The algorithm run directly (as from the toolbox) on the same single feature."""
    layer.selectByExpression(feature_filter)
    assert layer.selectedFeatureCount() == 1
    result, _ = run(algorithm, {**params(QgsProcessingFeatureSourceDefinition(layer.id(), True))})
    return result
