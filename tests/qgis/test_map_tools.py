"""The IMIS map tools driven headless: real clicks on the real map canvas over the PostGIS sample
town, the distance dialog, the background run, and the results dock compared with the
algorithm's own output (and with plain-SQL oracles)."""
from qgis.core import Qgis, QgsLayerTreeGroup, QgsProject, QgsSettings
from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtTest import QTest
from qgis.PyQt.QtWidgets import QDialogButtonBox

from tests.support.analysis import by_key, oracle_distances, oracle_summary, pg_layer, run, split_at_limit, table_rows
from tests.support.gui import click_lonlat, messages, process_events, wait_until, zoom_to
from tests.support.map_tools import (Shown, activate, check_toolbox_run_replaced, choose, dock_texts,  # noqa: F401
                                     feature_box, isolated_pond, reference_run, run_water_body_tool, town,
                                     wait_for_result)

# -- tests --------------------------------------------------------------------------------
def test_water_body_click_fills_the_dock_with_the_algorithms_tables(imis_plugin, qgis_iface, sample_db, town):
    ponds = town["ponds"]
    others = [f.id() for f in ponds.getFeatures()][:2]
    ponds.selectByIds(others)  # the user's own selection, which the tool must leave alone
    pond, dialog, result = run_water_body_tool(imis_plugin, qgis_iface, sample_db, 75.0)

    from qgis.PyQt.QtWidgets import QLabel

    assert any(f"(id {pond})" in label.text() for label in dialog.findChildren(QLabel))
    assert result.from_map_tool and result.algorithm_id == "imis:waterbodybuffer"
    assert result.subject.startswith("Pond") and f"(id {pond})" in result.subject and result.subject.endswith("75 m")
    assert sorted(ponds.selectedFeatureIds()) == sorted(others)

    dock = imis_plugin.dock
    shown = Shown(dock)
    # The same analysis run directly, with that pond selected in a layer of its own.
    layer = pg_layer(sample_db, "waterbodys", '"deleted_at" IS NULL')
    QgsProject.instance().addMapLayer(layer, False)
    reference = reference_run("imis:waterbodybuffer", layer, f'"id" = {pond}', lambda chosen: {
        "WATERBODIES": chosen, "BUILDINGS": town["buildings"], "CONTAINMENTS": town["containments"],
        "DISTANCE": 75.0})
    summary = table_rows(reference["OUTPUT_SUMMARY"])
    assert shown.cells["OUTPUT_SUMMARY"] == dock_texts(summary)
    assert shown.cells["OUTPUT_CONTAINMENT_SUMMARY"] == dock_texts(table_rows(reference["OUTPUT_CONTAINMENT_SUMMARY"]))
    assert shown.totals["Buildings in the zone"] == f"{reference['BUILDINGS_IN_ZONE']:,}"
    assert shown.totals["Containments in the zone"] == f"{reference['CONTAINMENTS_IN_ZONE']:,}"
    assert shown.totals["Ran in"] == "PostGIS"
    check_toolbox_run_replaced(dock, shown)

    # ... and both equal the plain-SQL oracle.
    inside, near = split_at_limit(oracle_distances(sample_db.dsn, 75.0, ids=[pond]), 75.0)
    assert not near
    assert summary == oracle_summary(sample_db.dsn, inside)

    # IMIS's popup hides the sanitation columns that are 0 everywhere; the box shows them all.
    visible = shown.visible["OUTPUT_SUMMARY"]
    totals = dict(zip(reference["OUTPUT_SUMMARY"].fields().names(), summary[-1]))
    assert visible == [h for h in reference["OUTPUT_SUMMARY"].fields().names()
                       if h in ("Structure Type", "Buildings") or totals[h] != 0]
    dock.show_zero_columns.setChecked(True)
    assert len(dock.visible_headers("OUTPUT_SUMMARY")) == 12
    dock.show_zero_columns.setChecked(False)


def test_water_body_result_layers_form_a_styled_group_and_the_map_zooms(imis_plugin, qgis_iface, sample_db, town):
    from qgis.core import QgsCategorizedSymbolRenderer

    pond, _, result = run_water_body_tool(imis_plugin, qgis_iface, sample_db, 60.0)
    root = QgsProject.instance().layerTreeRoot()
    group = root.findGroup("IMIS analysis results")
    assert group is not None and root.children()[0] is group
    run_group = group.children()[0]
    assert isinstance(run_group, QgsLayerTreeGroup) and run_group.name() == result.subject
    names = [node.layer().name() for node in run_group.findLayers()]
    assert names[0] == "Containments near water bodies" and names[-1] == "Zone near water bodies"
    buildings = imis_plugin.results.result_layer("OUTPUT_BUILDINGS")
    assert isinstance(buildings.renderer(), QgsCategorizedSymbolRenderer)
    assert buildings.featureCount() == len(split_at_limit(oracle_distances(sample_db.dsn, 60.0, ids=[pond]), 60)[0])
    zone = imis_plugin.results.result_layer("OUTPUT_ZONE")
    assert next(zone.getFeatures())["distance_m"] == 60.0
    canvas = qgis_iface.mapCanvas()
    from qgis.core import QgsCoordinateTransform

    zone_box = QgsCoordinateTransform(zone.crs(), canvas.mapSettings().destinationCrs(),
                                      QgsProject.instance()).transformBoundingBox(zone.extent())
    assert canvas.extent().contains(zone_box)
    # zoomed to the result (it fills the map in one direction), not to the town
    assert min(canvas.extent().width() / zone_box.width(), canvas.extent().height() / zone_box.height()) < 1.5

    # A second run: its group comes first, the earlier one is hidden.
    previous = result
    tool = imis_plugin.map_tools.tools["waterbody"]
    _, lon, lat = isolated_pond(sample_db)
    click_lonlat(canvas, lon, lat)
    assert tool.dialog.distance.value() == 60.0  # the last distance is remembered
    choose(tool, 30.0)
    second = wait_for_result(imis_plugin, previous)
    assert [child.name() for child in group.children()] == [second.subject, previous.subject]
    assert not group.children()[1].itemVisibilityChecked()
    assert QgsSettings().value("imis/map_tools/waterbody/distance", type=float) == 30.0


def test_click_on_nothing_says_what_to_click(imis_plugin, qgis_iface, sample_db, town):
    canvas = qgis_iface.mapCanvas()
    # A building far from every water body: no water body under the click.
    lon, lat = sample_db.query("""
        SELECT ST_X(ST_Centroid(b.geom)), ST_Y(ST_Centroid(b.geom)) FROM building_info.buildings b
        WHERE b.deleted_at IS NULL AND b.geom IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM layer_info.waterbodys w WHERE ST_DWithin(w.geom, b.geom, 0.0003)) ORDER BY b.bin LIMIT 1""")[0]
    zoom_to(canvas, (lon - 0.001, lat - 0.001, lon + 0.001, lat + 0.001))
    tool = activate(imis_plugin, "waterbody", canvas)
    click_lonlat(canvas, lon, lat)
    assert tool.dialog is None
    warnings = messages(qgis_iface)
    assert warnings and "No water body here" in warnings[-1] and "'Rivers'" in warnings[-1]
    assert imis_plugin.results.current is None


def test_click_on_two_drains_says_how_to_pick_one(imis_plugin, qgis_iface, sample_db, town):
    canvas = qgis_iface.mapCanvas()
    junction = sample_db.query("""
        SELECT ST_X(p), ST_Y(p), a, b FROM (
            SELECT (ST_Dump(ST_Intersection(a.geom, b.geom))).geom p, a.code a, b.code b
            FROM utility_info.drains a JOIN utility_info.drains b ON a.code < b.code AND ST_Intersects(a.geom, b.geom)
            WHERE a.deleted_at IS NULL AND b.deleted_at IS NULL) x
        WHERE GeometryType(p) = 'POINT' ORDER BY a, b LIMIT 1""")
    assert junction, "the sample town's drains must meet somewhere"
    lon, lat, first, second = junction[0]
    zoom_to(canvas, (lon - 0.0005, lat - 0.0005, lon + 0.0005, lat + 0.0005))
    tool = activate(imis_plugin, "candidates", canvas)
    click_lonlat(canvas, lon, lat)
    assert tool.dialog is None
    warning = messages(qgis_iface)[-1]
    assert "drains or sewers here" in warning and f"drain {first}" in warning and f"drain {second}" in warning
    assert "Zoom in" in warning


def test_hidden_layers_are_not_picked(imis_plugin, qgis_iface, sample_db, town):
    root = QgsProject.instance().layerTreeRoot()
    for key in ("rivers", "ponds"):
        root.findLayer(town[key].id()).setItemVisibilityChecked(False)
    _, lon, lat = isolated_pond(sample_db)
    canvas = qgis_iface.mapCanvas()
    zoom_to(canvas, (lon - 0.001, lat - 0.001, lon + 0.001, lat + 0.001))
    activate(imis_plugin, "waterbody", canvas)
    click_lonlat(canvas, lon, lat)
    assert "are hidden" in messages(qgis_iface)[-1]


def test_drain_click_lists_its_connection_candidates(imis_plugin, qgis_iface, sample_db, town):
    canvas = qgis_iface.mapCanvas()
    # The middle of a drain no other drain or sewer comes near.
    code, lon, lat = sample_db.query("""
        SELECT d.code, ST_X(p), ST_Y(p) FROM (
            SELECT code, geom, ST_LineInterpolatePoint(ST_GeometryN(geom, 1), 0.5) p
            FROM utility_info.drains WHERE deleted_at IS NULL) d
        WHERE NOT EXISTS (SELECT 1 FROM utility_info.drains o WHERE o.code <> d.code AND ST_DWithin(o.geom, d.p, 0.0003))
          AND NOT EXISTS (SELECT 1 FROM utility_info.sewers s WHERE ST_DWithin(s.geom, d.p, 0.0003))
        ORDER BY ST_Length(d.geom) DESC, d.code LIMIT 1""")[0]
    zoom_to(canvas, (lon - 0.0008, lat - 0.0008, lon + 0.0008, lat + 0.0008))
    tool = activate(imis_plugin, "candidates", canvas)
    click_lonlat(canvas, lon, lat)
    assert tool.dialog.distance.value() == 30.0  # the algorithm's default
    choose(tool, 30.0)
    result = wait_for_result(imis_plugin)
    assert result.subject == f"Drain {code}, 30 m"

    shown = Shown(imis_plugin.dock)
    candidates = imis_plugin.results.result_layer("OUTPUT", result)
    zone = imis_plugin.results.result_layer("OUTPUT_ZONE", result)  # drawn by the tool: the algorithm has none
    assert zone is not None and next(zone.getFeatures())["target"] == f"drain {code}"
    assert imis_plugin.dock.council_button.isEnabled()
    reference = reference_run("imis:connectioncandidates", town["drains"], f"\"code\" = '{code}'", lambda chosen: {
        "NETWORK": chosen, "BUILDINGS": town["buildings"], "CONTAINMENTS": town["containments"], "DISTANCE": 30.0})
    town["drains"].removeSelection()
    assert shown.cells["OUTPUT_SUMMARY"] == dock_texts(table_rows(reference["OUTPUT_SUMMARY"]))
    assert shown.totals["Candidate buildings"] == f"{reference['CANDIDATES']:,}"
    check_toolbox_run_replaced(imis_plugin.dock, shown)
    assert set(by_key(candidates, "bin", "distance_m")) == set(by_key(reference["OUTPUT"], "bin", "distance_m"))
    assert all(network == code for network in by_key(candidates, "bin", "network_code").values())


def test_point_click_in_a_utm_map_equals_the_algorithm_and_the_oracle(imis_plugin, qgis_iface, sample_db, town):
    from qgis.core import QgsCoordinateReferenceSystem as Crs

    canvas = qgis_iface.mapCanvas()
    canvas.setDestinationCrs(Crs("EPSG:3857"))  # another projected map CRS than the data's
    lon, lat = sample_db.query("""
        SELECT ST_X(ST_Centroid(geom)), ST_Y(ST_Centroid(geom)) FROM building_info.buildings
        WHERE deleted_at IS NULL ORDER BY bin OFFSET 100 LIMIT 1""")[0]
    zoom_to(canvas, (lon - 0.002, lat - 0.002, lon + 0.002, lat + 0.002))
    tool = activate(imis_plugin, "point", canvas)
    click_lonlat(canvas, lon, lat)
    choose(tool, 120.0)
    result = wait_for_result(imis_plugin)
    assert result.algorithm_id == "imis:pointbuffer" and result.subject.startswith("The point ")
    # The clicked point, as the tool passed it (a pixel's precision away from lon/lat).
    clicked = result.parameters["POINT"]
    x, y = (float(v) for v in clicked.split(" [")[0].split(","))
    assert abs(x - lon) < 2e-5 and abs(y - lat) < 2e-5
    shown = Shown(imis_plugin.dock)
    reference, _ = run("imis:pointbuffer", {"POINT": clicked, "BUILDINGS": town["buildings"],
                                            "CONTAINMENTS": town["containments"], "DISTANCE": 120.0})
    assert shown.cells["OUTPUT_SUMMARY"] == dock_texts(table_rows(reference["OUTPUT_SUMMARY"]))
    check_toolbox_run_replaced(imis_plugin.dock, shown)
    bins = {row[0] for row in sample_db.query("""
        SELECT bin FROM building_info.buildings WHERE deleted_at IS NULL
          AND ST_DWithin(geom::geography, ST_SetSRID(ST_MakePoint(%s, %s), 4326)::geography, 120)""", (x, y))}
    assert shown.totals["Buildings in the zone"] == f"{len(bins):,}"
    assert table_rows(reference["OUTPUT_SUMMARY"]) == oracle_summary(sample_db.dsn, bins)


def test_ward_click_shows_water_supply_coverage(imis_plugin, qgis_iface, sample_db, town):
    canvas = qgis_iface.mapCanvas()
    ward, lon, lat = sample_db.query("""
        SELECT ward, ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom)) FROM layer_info.wards
        WHERE deleted_at IS NULL ORDER BY ward LIMIT 1""")[0]
    zoom_to(canvas, feature_box(sample_db, "layer_info.wards", "ward = %s", (ward,)), margin=0.1)
    tool = activate(imis_plugin, "watersupply", canvas)
    click_lonlat(canvas, lon, lat)
    assert tool.dialog.distance.value() == 50.0
    choose(tool, 50.0)
    result = wait_for_result(imis_plugin)
    assert result.algorithm_id == "imis:watersupplycoverage"

    shown = Shown(imis_plugin.dock)
    buildings = imis_plugin.results.result_layer("OUTPUT_BUILDINGS", result)
    wards = pg_layer(sample_db, "wards", '"deleted_at" IS NULL')
    QgsProject.instance().addMapLayer(wards, False)
    reference = reference_run("imis:watersupplycoverage", wards, f'"ward" = {ward}', lambda chosen: {
        "PIPES": town["water_supply"], "BUILDINGS": town["buildings"], "WARDS": chosen, "DISTANCE": 50.0})
    assert shown.cells["OUTPUT_SUMMARY"] == dock_texts(table_rows(reference["OUTPUT_SUMMARY"]))
    check_toolbox_run_replaced(imis_plugin.dock, shown)
    # The map shows the clicked ward's buildings (by location), coloured by status.
    in_ward = sample_db.query("""
        SELECT count(*) FROM building_info.buildings b JOIN layer_info.wards w ON w.ward = %s
        WHERE b.deleted_at IS NULL AND b.geom IS NOT NULL AND ST_Contains(w.geom, ST_Centroid(b.geom))""", (ward,))[0][0]
    assert buildings.featureCount() == in_ward > 0
    assert buildings.renderer().classAttribute().find("status") >= 0


def test_council_map_of_a_ward_coverage(imis_plugin, qgis_iface, sample_db, town, tmp_path, monkeypatch):
    """The Council map button on a water supply result: the ward is the zone, buildings by status."""
    from imis.imis_plugin import results_controller

    canvas = qgis_iface.mapCanvas()
    ward, lon, lat = sample_db.query("""
        SELECT ward, ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom)) FROM layer_info.wards
        WHERE deleted_at IS NULL ORDER BY ward DESC LIMIT 1""")[0]
    zoom_to(canvas, feature_box(sample_db, "layer_info.wards", "ward = %s", (ward,)), margin=0.1)
    tool = activate(imis_plugin, "watersupply", canvas)
    click_lonlat(canvas, lon, lat)
    choose(tool, 40.0)
    wait_for_result(imis_plugin)
    pdf = tmp_path / "ward.pdf"
    monkeypatch.setattr(results_controller.QFileDialog, "getSaveFileName", lambda *args: (str(pdf), ""))
    QTest.mouseClick(imis_plugin.dock.council_button, Qt.LeftButton)
    wait_until(lambda: not imis_plugin.results.running(), 180, "the council map")
    assert pdf.exists() and pdf.with_suffix(".png").exists(), messages(qgis_iface)
    import subprocess

    text = " ".join(subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout.split())
    assert f"Water supply coverage of ward {ward} (reach 40 m)" in text


def test_distance_dialog_cancel_runs_nothing(imis_plugin, qgis_iface, sample_db, town):
    _, lon, lat = isolated_pond(sample_db)
    canvas = qgis_iface.mapCanvas()
    zoom_to(canvas, (lon - 0.001, lat - 0.001, lon + 0.001, lat + 0.001))
    tool = activate(imis_plugin, "waterbody", canvas)
    click_lonlat(canvas, lon, lat)
    wait_until(lambda: tool.dialog.isVisible(), 10)
    QTest.mouseClick(tool.dialog.buttons.button(QDialogButtonBox.Cancel), Qt.LeftButton)
    process_events(0.2)
    assert not imis_plugin.results.running() and imis_plugin.results.current is None
    assert not messages(qgis_iface, Qgis.Critical)
