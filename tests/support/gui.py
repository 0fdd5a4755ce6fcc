"""Helpers for the GUI tests: the pytest-qgis window laid out like QGIS, clicks on the map
canvas, waiting for background tasks, the message bar."""
import time

from qgis.core import Qgis, QgsCoordinateTransform, QgsPointXY, QgsProject, QgsRectangle
from qgis.PyQt.QtCore import QCoreApplication, QPoint, Qt
from qgis.PyQt.QtTest import QTest


def process_events(seconds=0.0):
    end = time.time() + seconds
    while True:
        QCoreApplication.processEvents()
        if time.time() >= end:
            break
        time.sleep(0.01)


def wait_until(predicate, timeout=120.0, what="the condition"):
    deadline = time.time() + timeout
    while not predicate():
        if time.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        QCoreApplication.processEvents()
        time.sleep(0.01)
    QCoreApplication.processEvents()


def lay_out_window(iface, plugin, width=1920, height=1080):
    """The pytest-qgis main window with the canvas in the middle, the IMIS toolbar and the dock
    (its iface stubs addDockWidget/addToolBar, so the test places them as QGIS would)."""
    main = iface.mainWindow()
    canvas = iface.mapCanvas()
    if main.centralWidget() is not canvas:
        main.setCentralWidget(canvas)
    main.addToolBar(Qt.TopToolBarArea, plugin.toolbar)
    plugin.toolbar.show()
    main.addDockWidget(Qt.BottomDockWidgetArea, plugin.dock)  # where the plugin puts it
    main.resize(width, height)
    main.show()
    process_events(0.2)
    return main


def zoom_to(canvas, rect_4326, margin=0.2):
    """Show a lon/lat rectangle on the canvas (any canvas CRS)."""
    from qgis.core import QgsCoordinateReferenceSystem

    transform = QgsCoordinateTransform(QgsCoordinateReferenceSystem("EPSG:4326"),
                                       canvas.mapSettings().destinationCrs(), QgsProject.instance())
    extent = transform.transformBoundingBox(QgsRectangle(*rect_4326))
    extent = extent.buffered(max(extent.width(), extent.height()) * margin)
    canvas.setExtent(extent)
    canvas.refresh()
    process_events(0.05)


def click_lonlat(canvas, lon, lat, button=Qt.LeftButton):
    """A real mouse click (press and release) on the canvas at a lon/lat position."""
    from qgis.core import QgsCoordinateReferenceSystem

    transform = QgsCoordinateTransform(QgsCoordinateReferenceSystem("EPSG:4326"),
                                       canvas.mapSettings().destinationCrs(), QgsProject.instance())
    map_point = transform.transform(QgsPointXY(lon, lat))
    pixel = canvas.getCoordinateTransform().transform(map_point)
    position = QPoint(round(pixel.x()), round(pixel.y()))
    assert canvas.viewport().rect().contains(position), f"{lon}, {lat} is not on the canvas"
    QTest.mouseClick(canvas.viewport(), button, Qt.NoModifier, position)
    process_events()


def messages(iface, level=Qgis.Warning):
    return list(iface.messageBar().get_messages(level))
