"""The IMIS results dock: Export to Excel, Council map, Processing-toolbox runs, cancel, unload,
and a screenshot of QGIS with the dock after a water-body analysis."""
import re
import subprocess

import openpyxl
from qgis.core import Qgis, QgsProcessingFeatureSourceDefinition, QgsProject
from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtTest import QTest

from tests.support.analysis import run, table_rows
from tests.support.gui import messages, process_events, wait_until
from tests.support.map_tools import (Shown, dock_texts, isolated_pond, run_water_body_tool,  # noqa: F401
                                     town, wait_for_result)


def answer_file_dialog(monkeypatch, path):
    """The save dialog answers `path` (a real dialog would wait for a person)."""
    from imis.imis_plugin import results_controller

    asked = []

    def save_dialog(parent, caption, suggested, file_filter):
        asked.append(suggested)
        return str(path), file_filter

    monkeypatch.setattr(results_controller.QFileDialog, "getSaveFileName", save_dialog)
    return asked


def sheets(path, skip=("Date",)):
    """{sheet: rows} of a workbook; Parameters rows named in `skip` left out."""
    book = openpyxl.load_workbook(path)
    found = {}
    for sheet in book.worksheets:
        rows = [list(row) for row in sheet.iter_rows(values_only=True)]
        if sheet.title == "Parameters":
            rows = [row for row in rows if row[0] not in skip]
        found[sheet.title] = rows
    return found


def test_export_button_writes_the_algorithms_workbook(imis_plugin, qgis_iface, sample_db, town, tmp_path,
                                                      monkeypatch):
    pond, _, result = run_water_body_tool(imis_plugin, qgis_iface, sample_db, 75.0)
    ponds = town["ponds"]
    ponds.removeSelection()
    path = tmp_path / "exported.xlsx"
    asked = answer_file_dialog(monkeypatch, path)
    QTest.mouseClick(imis_plugin.dock.export_button, Qt.LeftButton)
    assert asked and asked[0].endswith("Summary Information Buffer Water Body Polygon.xlsx")  # IMIS's file name
    wait_until(lambda: not imis_plugin.results.running() and path.exists(), what="the workbook")
    assert imis_plugin.results.current is result  # the export run does not replace the shown result
    assert not ponds.selectedFeatureIds()
    assert any(str(path) in message for message in messages(qgis_iface, Qgis.Success))

    # A second export copies the written workbook; nothing runs again.
    again = tmp_path / "again.xlsx"
    answer_file_dialog(monkeypatch, again)
    QTest.mouseClick(imis_plugin.dock.export_button, Qt.LeftButton)
    assert not imis_plugin.results.running()
    assert again.read_bytes() == path.read_bytes()

    # The workbook the algorithm itself writes for the same pond and layers.
    reference_path = tmp_path / "reference.xlsx"
    ponds.selectByExpression(f'"id" = {pond}')
    run("imis:waterbodybuffer", {
        "WATERBODIES": QgsProcessingFeatureSourceDefinition(ponds.id(), True), "BUILDINGS": town["buildings"],
        "CONTAINMENTS": town["containments"], "DISTANCE": 75.0, "OUTPUT_XLSX": str(reference_path)})
    ponds.removeSelection()
    exported = sheets(path)
    assert exported == sheets(reference_path)
    assert list(exported) == ["Buildings Sheet", "Buildings List", "Containments by Type", "Containment List",
                              "Parameters"]
    # ... whose Buildings Sheet is the table the dock showed (all twelve columns).
    summary = result.table("OUTPUT_SUMMARY")
    assert exported["Buildings Sheet"][0] == summary.headers
    assert [[row[0] or ""] + row[1:] for row in exported["Buildings Sheet"][1:]] == summary.rows


def test_toolbox_run_with_a_workbook_shows_in_the_dock_and_exports_it(imis_plugin, qgis_iface, sample_db, town,
                                                                       tmp_path, monkeypatch):
    written = tmp_path / "toolbox.xlsx"
    results, _ = run("imis:waterbodybuffer", {
        "WATERBODIES": town["rivers"], "BUILDINGS": town["buildings"], "CONTAINMENTS": town["containments"],
        "DISTANCE": 40.0, "OUTPUT_XLSX": str(written)})
    dock = imis_plugin.dock
    shown = dock.result
    assert shown is not None and not shown.from_map_tool
    assert shown.subject == "all of 'Rivers', 40 m"
    assert dock.cells("OUTPUT_SUMMARY") == dock_texts(table_rows(results["OUTPUT_SUMMARY"]))
    assert dock.total_values["Water bodies used"].text() == str(results["WATERBODIES_USED"])
    copy = tmp_path / "copy.xlsx"
    answer_file_dialog(monkeypatch, copy)
    QTest.mouseClick(dock.export_button, Qt.LeftButton)
    assert not imis_plugin.results.running()
    assert copy.read_bytes() == written.read_bytes()


def test_toolbox_dialog_run_shows_in_the_dock_with_imis_styles(imis_plugin, qgis_iface, sample_db, town,
                                                                 monkeypatch):
    """The real Processing dialog: it runs in a task and loads the outputs; the dock shows the
    result and the loaded layers carry the IMIS styles."""
    import processing
    from qgis.core import QgsCategorizedSymbolRenderer
    from qgis.gui import QgsBrowserGuiModel

    model = QgsBrowserGuiModel()
    monkeypatch.setattr(qgis_iface, "browserModel", lambda: model, raising=False)  # a stub in pytest-qgis

    dialog = processing.createAlgorithmDialog("imis:waterbodybuffer", {
        "WATERBODIES": town["rivers"].id(), "BUILDINGS": town["buildings"].id(),
        "CONTAINMENTS": town["containments"].id(), "DISTANCE": 55.0})
    before = set(QgsProject.instance().mapLayers())
    dialog.runAlgorithm()
    wait_until(lambda: imis_plugin.dock.result is not None, what="the toolbox run")
    result = imis_plugin.dock.result
    assert not result.from_map_tool and result.subject == "all of 'Rivers', 55 m"
    wait_until(lambda: len(set(QgsProject.instance().mapLayers()) - before) >= 3, 30, "the loaded outputs")
    process_events(0.2)
    added = [QgsProject.instance().mapLayer(i) for i in set(QgsProject.instance().mapLayers()) - before]
    buildings = next(layer for layer in added if layer.id() == result.layer_outputs["OUTPUT_BUILDINGS"])
    assert isinstance(buildings.renderer(), QgsCategorizedSymbolRenderer)
    assert buildings.name() == "Buildings near water bodies, by structure type"
    zone = imis_plugin.results.result_layer("OUTPUT_ZONE")
    assert zone is not None and zone.name() == "Zone near water bodies"


def test_council_map_button_makes_the_pdf_and_png(imis_plugin, qgis_iface, sample_db, town, tmp_path, monkeypatch):
    _, _, result = run_water_body_tool(imis_plugin, qgis_iface, sample_db, 60.0)
    assert imis_plugin.dock.council_button.isEnabled()
    pdf = tmp_path / "council.pdf"
    answer_file_dialog(monkeypatch, pdf)
    QTest.mouseClick(imis_plugin.dock.council_button, Qt.LeftButton)
    wait_until(lambda: not imis_plugin.results.running(), 180, "the council map")
    assert pdf.exists() and (tmp_path / "council.png").exists(), messages(qgis_iface)
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert re.search(r"^Pages:\s+1$", info, re.M), info
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "within 60 m of Pond" in " ".join(text.split())
    total = result.table("OUTPUT_SUMMARY").rows[-1]
    assert f"{total[1]:,}" in text or str(total[1]) in text
    assert any(str(pdf) in message for message in messages(qgis_iface, Qgis.Success))


def test_cancel_button_stops_the_run(imis_plugin, qgis_iface, sample_db, town):
    from imis.imis_plugin.map_tools import TOOLS_BY_KEY, build_request

    pond = isolated_pond(sample_db)[0]
    ponds = town["ponds"]
    feature = next(ponds.getFeatures(f'"id" = {pond}'))
    request = build_request(TOOLS_BY_KEY["waterbody"], 3000.0, pick=(ponds, feature))
    groups = QgsProject.instance().layerTreeRoot().findGroup("IMIS analysis results")
    run_ = imis_plugin.results.run_analysis(request)
    assert run_ is not None and imis_plugin.dock.running_box.isVisibleTo(imis_plugin.dock)
    QTest.mouseClick(imis_plugin.dock.cancel_button, Qt.LeftButton)
    wait_until(lambda: not imis_plugin.results.running(), what="the cancelled run")
    assert imis_plugin.results.current is None
    assert groups is None or not groups.children()
    assert any("cancelled" in message for message in messages(qgis_iface, Qgis.Info))
    assert not imis_plugin.dock.running_box.isVisibleTo(imis_plugin.dock)


def test_refused_input_is_said_in_the_message_bar(imis_plugin, qgis_iface, sample_db, town):
    """Without a buildings layer in the project, a click and a distance end in a plain message."""
    from tests.support.gui import click_lonlat, zoom_to
    from tests.support.map_tools import activate, choose

    QgsProject.instance().removeMapLayer(town["buildings"].id())
    _, lon, lat = isolated_pond(sample_db)
    canvas = qgis_iface.mapCanvas()
    zoom_to(canvas, (lon - 0.001, lat - 0.001, lon + 0.001, lat + 0.001))
    tool = activate(imis_plugin, "waterbody", canvas)
    click_lonlat(canvas, lon, lat)
    choose(tool, 10.0)
    assert not imis_plugin.results.running() and imis_plugin.results.current is None
    assert "The buildings layer is not in the project" in messages(qgis_iface)[-1]


def test_unload_removes_tools_dock_and_listener(imis_plugin, qgis_iface, sample_db, town):
    from qgis.PyQt import sip

    from imis.processing_algorithms import run_hooks

    canvas = qgis_iface.mapCanvas()
    imis_plugin.map_tools.actions["point"].trigger()
    tool, dock, toolbar = canvas.mapTool(), imis_plugin.dock, imis_plugin.toolbar
    assert run_hooks._LISTENERS
    imis_plugin.unload()
    from qgis.PyQt.QtCore import QCoreApplication, QEvent

    QCoreApplication.sendPostedEvents(None, QEvent.DeferredDelete)  # deleteLater()
    assert canvas.mapTool() is not tool
    assert not run_hooks._LISTENERS
    assert sip.isdeleted(dock) and sip.isdeleted(toolbar)
    assert imis_plugin.map_tools is None and imis_plugin.results is None
    imis_plugin.unload()  # a second unload (QGIS may call it again on reload) does nothing


def test_screenshot_of_qgis_with_the_dock_after_a_water_body_analysis(imis_plugin, qgis_iface, sample_db, town,
                                                                      output_dir):
    _, _, result = run_water_body_tool(imis_plugin, qgis_iface, sample_db, 100.0)
    main = qgis_iface.mainWindow()
    canvas = qgis_iface.mapCanvas()
    canvas.refresh()
    wait_until(lambda: not canvas.isDrawing(), 60, "the map to draw")
    canvas.waitWhileRendering()
    process_events(0.5)
    image = main.grab().toImage()
    path = output_dir / "dock_waterbody.png"
    assert image.save(str(path))
    dock = imis_plugin.dock
    assert dock.isVisible() and dock.width() >= 430
    # The dock's first table is not cut: every shown column fits without scrolling.
    table = dock.tables["OUTPUT_SUMMARY"]
    assert table.horizontalHeader().length() <= table.viewport().width() + 1
    # The map part has drawn something besides the background.
    origin = canvas.mapTo(main, canvas.rect().topLeft())
    colours = {image.pixelColor(origin.x() + x, origin.y() + y).name() for x in range(10, canvas.width() - 10, 20)
               for y in range(10, canvas.height() - 10, 20)}
    assert len(colours) > 5
    assert result.tables and dock.result is result
    for output in dock.tables:  # every row of every table shows
        table = dock.tables[output]
        assert table.height() >= table.verticalHeader().length() + table.horizontalHeader().height()

    # Docked at the side instead, the panel stacks its parts; the wide table scrolls sideways.
    main.addDockWidget(Qt.RightDockWidgetArea, dock)
    main.resizeDocks([dock], [520], Qt.Horizontal)
    process_events(0.5)
    assert dock.content_layout.direction() == dock.content_layout.TopToBottom
    assert main.grab().toImage().save(str(output_dir / "dock_waterbody_side.png"))
