"""imis:councilmap: the council map of the sample town's water-body analysis, rendered headless.

The PDF is read back with poppler (pdfinfo for pages and size, pdftotext for the printed
table), the PNG with Qt; the expected numbers are the analysis output itself and the sample
GeoPackage read with plain sqlite3.
"""
import re
import sqlite3
import subprocess
import time

import pytest
from qgis.core import (QgsApplication, QgsProcessingAlgRunnerTask, QgsProcessingContext, QgsProcessingException,
                       QgsProcessingFeedback, QgsProject, QgsSettings, QgsVectorLayer)
from qgis.PyQt.QtCore import Qt, QThread
from qgis.PyQt.QtGui import QImage

MM_PER_PT = 25.4 / 72.0
DISTANCE = 100.0
_PROVIDER = []  # keeps a provider registered here alive


@pytest.fixture(scope="module")
def gpkg_without_wal(qgis_app):
    # With WAL on, this QGIS 3.22 / GDAL 3.6 pair fails to open a second filtered layer of one
    # GeoPackage ("unable to open database file"); "Load IMIS layers" filters every layer.
    settings = QgsSettings()
    before = settings.value("qgis/walForSqlite3")
    settings.setValue("qgis/walForSqlite3", False)
    yield
    if before is None:
        settings.remove("qgis/walForSqlite3")
    else:
        settings.setValue("qgis/walForSqlite3", before)


@pytest.fixture(scope="module")
def analysis(qgis_app, qgis_processing, imis_package, sample_gpkg, gpkg_without_wal):
    """The water-body analysis of the sample town (all rivers, 100 m): imis:waterbodybuffer, or
    until it is in the build, the stand-in computing the same outputs the plain way."""
    registry = QgsApplication.processingRegistry()
    if registry.providerById("imis") is None:
        from imis.imis_plugin.provider import ImisProvider

        _PROVIDER.append(ImisProvider())
        registry.addProvider(_PROVIDER[-1])
    if registry.algorithmById("imis:waterbodybuffer") is None:
        from tests.support import standin_waterbody

        return standin_waterbody.run(str(sample_gpkg), DISTANCE)
    import processing

    from imis.imis_plugin.layers import load_imis_layers

    project = QgsProject()
    layers, problems = load_imis_layers(gpkg_path=str(sample_gpkg), project=project)
    assert problems == []
    out = processing.run("imis:waterbodybuffer", {
        "WATERBODIES": layers["rivers"], "BUILDINGS": layers["buildings"], "CONTAINMENTS": layers["containments"],
        "DISTANCE": DISTANCE, "OUTPUT_BUILDINGS": "TEMPORARY_OUTPUT", "OUTPUT_CONTAINMENTS": "TEMPORARY_OUTPUT",
        "OUTPUT_ZONE": "TEMPORARY_OUTPUT", "OUTPUT_SUMMARY": "TEMPORARY_OUTPUT",
        "OUTPUT_CONTAINMENT_SUMMARY": "TEMPORARY_OUTPUT"})
    return {"zone": out["OUTPUT_ZONE"], "buildings": out["OUTPUT_BUILDINGS"],
            "containments": out["OUTPUT_CONTAINMENTS"], "summary": out["OUTPUT_SUMMARY"],
            "containment_summary": out["OUTPUT_CONTAINMENT_SUMMARY"]}


@pytest.fixture
def base_layers(imis_package, sample_gpkg, clean_project, gpkg_without_wal):
    from imis.imis_plugin.layers import load_imis_layers

    layers, problems = load_imis_layers(gpkg_path=str(sample_gpkg), project=clean_project)
    assert problems == []
    return layers


def gpkg_rows(path, sql):
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def map_parameters(analysis, base, out_dir, name, **extra):
    params = {
        "ZONE": analysis["zone"], "RESULT_BUILDINGS": analysis["buildings"],
        "RESULT_CONTAINMENTS": analysis["containments"], "SUMMARY": analysis["summary"],
        "CONTAINMENT_SUMMARY": analysis["containment_summary"],
        "WATERBODIES": [base["rivers"], base["ponds"]], "ROADS": base["roads"], "WARDS": base["wards"],
        "CITY": base["city"], "DPI": 100,
        "OUTPUT_PDF": str(out_dir / f"{name}.pdf"), "OUTPUT_PNG": str(out_dir / f"{name}.png"),
    }
    params.update(extra)
    return params


class Feedback(QgsProcessingFeedback):
    def __init__(self):
        super().__init__()
        self.errors = []

    def reportError(self, error, fatalError=False):  # noqa: N802 (QGIS API)
        self.errors.append(error)


def run_map(params, feedback=None):
    import processing

    return processing.run("imis:councilmap", params, feedback=feedback or Feedback())


def pdf_info(path):
    text = subprocess.run(["pdfinfo", str(path)], check=True, capture_output=True, text=True).stdout
    pages = int(re.search(r"^Pages:\s+(\d+)", text, re.M).group(1))
    width, height = map(float, re.search(r"^Page size:\s+([\d.]+) x ([\d.]+) pts", text, re.M).groups())
    return pages, width * MM_PER_PT, height * MM_PER_PT


def summary_rows(layer):
    return [[None if v is None or str(v) == "NULL" else v for v in f.attributes()] for f in layer.getFeatures()]


def assert_image_has_content(path, width_mm, dpi):
    image = QImage(str(path))
    assert not image.isNull(), path
    assert abs(image.width() - width_mm / 25.4 * dpi) <= 2
    colours, ink = set(), 0
    samples = 0
    for y in range(0, image.height(), 7):
        for x in range(0, image.width(), 7):
            rgb = image.pixel(x, y) & 0xFFFFFF
            colours.add(rgb)
            ink += rgb != 0xFFFFFF
            samples += 1
    assert len(colours) > 30, f"{path}: only {len(colours)} colours"
    assert ink / samples > 0.05, f"{path}: almost blank"


def printed_table(pdf, layout_box_mm, page=1):
    """Text lines of the PDF inside a box (x, y, w, h in mm), as pdftotext lays them out."""
    x, y, w, h = (round(v / MM_PER_PT) for v in layout_box_mm)
    return subprocess.run(["pdftotext", "-layout", "-f", str(page), "-l", str(page), "-r", "72", "-x", str(x),
                           "-y", str(y), "-W", str(w), "-H", str(h), str(pdf), "-"],
                          check=True, capture_output=True, text=True).stdout.splitlines()


def template_box(item_id, orientation="landscape"):
    from imis.processing_algorithms import council_layout

    project = QgsProject()  # the layout needs its project alive
    layout = council_layout.load_template(project, council_layout.TEMPLATES[orientation])
    item = layout.itemById(item_id)
    size = layout.template_boxes[item_id]
    return item.pos().x(), item.pos().y(), size.width(), size.height()


def test_a4_landscape_map_of_the_water_body_analysis(imis_provider, analysis, base_layers, sample_gpkg,
                                                      output_dir):
    params = map_parameters(analysis, base_layers, output_dir, "council_map_a4")
    result = run_map(params)

    assert result["PAGES"] == 1
    pages, width, height = pdf_info(result["OUTPUT_PDF"])
    assert pages == 1
    assert abs(width - 297) < 0.5 and abs(height - 210) < 0.5
    assert_image_has_content(result["OUTPUT_PNG"], 297, 100)

    text = subprocess.run(["pdftotext", "-layout", result["OUTPUT_PDF"], "-"], check=True, capture_output=True,
                          text=True).stdout
    (municipality,), = gpkg_rows(sample_gpkg, "SELECT name FROM citypolys WHERE deleted_at IS NULL")
    assert municipality.upper() in text
    assert f"within {DISTANCE:g} m of water bodies" in text
    assert "Data source: GeoPackage " + sample_gpkg.name in text
    for label in ("Rivers", "Ponds and other water bodies", "Roads", "Ward boundaries", "Analysis zone"):
        assert label in text, label


def test_printed_buildings_table_equals_the_analysis_summary(imis_provider, analysis, base_layers, output_dir):
    result = run_map(map_parameters(analysis, base_layers, output_dir, "council_map_table", OUTPUT_PNG=None))
    lines = printed_table(result["OUTPUT_PDF"], template_box("buildings_table"))
    headers = [f.name() for f in analysis["summary"].fields()]
    rows = summary_rows(analysis["summary"])
    assert rows[-1][0] == "Total" and len(rows) >= 2
    # Count columns that are zero in every row are left out of the print (as IMIS's popup does).
    shown = [i for i in range(1, len(headers)) if i == 1 or any(row[i] for row in rows)]
    for row in rows:
        label = row[0] or "(not recorded)"
        line = next((ln for ln in lines if ln.strip().startswith(label)), None)
        assert line is not None, f"row {label!r} not printed in {lines}"
        printed = [int(n.replace(",", "")) for n in re.findall(r"\d[\d,]*", line.strip()[len(label):])]
        assert printed == [row[i] for i in shown], label
    hidden = [headers[i] for i in range(1, len(headers)) if i not in shown]
    assert all(rows[-1][headers.index(h)] == 0 for h in hidden)

    lines = printed_table(result["OUTPUT_PDF"], template_box("containments_table"))
    for label, count in summary_rows(analysis["containment_summary"]):
        line = next((ln for ln in lines if ln.strip().startswith(label)), None)
        assert line is not None, label
        assert int(line.split()[-1].replace(",", "")) == count, label


def test_layout_tables_hold_the_analysis_numbers(qgis_app, imis_package, analysis):
    from imis.processing_algorithms import council_layout

    headers = [f.name() for f in analysis["summary"].fields()]
    rows = summary_rows(analysis["summary"])
    project = QgsProject()  # the layout needs its project alive
    layout = council_layout.load_template(project, council_layout.TEMPLATES["portrait"])
    shown = council_layout.fill_table(layout, "buildings_table", council_layout.Table(headers, rows))
    table = council_layout.table_of(layout, "buildings_table")
    assert [h.heading().replace("\n", " ") for h in table.headers()] == [headers[i] for i in shown]
    contents = table.tableContents()
    assert len(contents) == len(rows)
    for cells, row in zip(contents, rows):
        assert cells[0].content() == (row[0] or "(not recorded)")
        assert [int(c.content().replace(",", "")) for c in cells[1:]] == [row[i] for i in shown[1:]]


def test_one_page_per_ward(imis_provider, analysis, base_layers, sample_gpkg, output_dir):
    params = map_parameters(analysis, base_layers, output_dir, "council_atlas", ATLAS_BY_WARD=True, ORIENTATION=1)
    result = run_map(params)
    wards = sorted(w for (w,) in gpkg_rows(
        sample_gpkg, "SELECT ward FROM wards WHERE deleted_at IS NULL AND geom IS NOT NULL"))
    pages, width, height = pdf_info(result["OUTPUT_PDF"])
    assert pages == result["PAGES"] == len(wards) > 1
    assert abs(width - 210) < 0.5 and abs(height - 297) < 0.5
    for page, ward in enumerate(wards, start=1):
        text = subprocess.run(["pdftotext", "-f", str(page), "-l", str(page), result["OUTPUT_PDF"], "-"],
                              check=True, capture_output=True, text=True).stdout
        assert f"Ward {ward}" in text
    for ward in wards:
        assert_image_has_content(output_dir / f"council_atlas_ward_{ward}.png", 210, 100)
    assert_image_has_content(output_dir / "council_atlas.png", 210, 100)


def test_a3_landscape(imis_provider, analysis, base_layers, output_dir):
    result = run_map(map_parameters(analysis, base_layers, output_dir, "council_map_a3", PAPER=1, OUTPUT_PNG=None))
    pages, width, height = pdf_info(result["OUTPUT_PDF"])
    assert pages == 1 and abs(width - 420) < 0.5 and abs(height - 297) < 0.5


def test_renders_in_a_background_task_without_touching_the_project_layers(imis_provider, analysis, base_layers,
                                                                         clean_project, output_dir):
    before = {key: (layer.name(), layer.subsetString(), layer.renderer().dump()) for key, layer in base_layers.items()
              if isinstance(layer, QgsVectorLayer) and layer.isSpatial()}
    layer_ids = set(clean_project.mapLayers())
    alg = QgsApplication.processingRegistry().createAlgorithmById("imis:councilmap")
    context = QgsProcessingContext()
    context.setProject(clean_project)
    feedback = QgsProcessingFeedback()
    threads = set()
    main = QgsApplication.instance().thread()
    feedback.progressChanged.connect(lambda _: threads.add(QThread.currentThread() == main), Qt.DirectConnection)
    params = map_parameters(analysis, base_layers, output_dir, "council_map_task", OUTPUT_PNG=None)
    task = QgsProcessingAlgRunnerTask(alg, params, context, feedback)
    outcome = {}
    task.executed.connect(lambda ok, results: outcome.update(ok=ok, results=results))
    QgsApplication.taskManager().addTask(task)
    ticks, started = 0, time.time()
    while "ok" not in outcome and time.time() - started < 300:
        QgsApplication.processEvents()  # the main thread stays free while the map is drawn
        ticks += 1
        time.sleep(0.005)
    assert outcome.get("ok"), outcome
    assert threads == {False}, "progress must come from the worker thread only"
    assert ticks > 10
    assert pdf_info(outcome["results"]["OUTPUT_PDF"])[0] == 1
    assert set(clean_project.mapLayers()) == layer_ids
    after = {key: (layer.name(), layer.subsetString(), layer.renderer().dump()) for key, layer in base_layers.items()
             if key in before}
    assert after == before


def test_cancel_writes_no_map(imis_provider, analysis, base_layers, output_dir):
    import processing

    pdf = output_dir / "council_cancelled.pdf"
    pdf.unlink(missing_ok=True)
    feedback = QgsProcessingFeedback()
    feedback.cancel()
    params = map_parameters(analysis, base_layers, output_dir, "council_cancelled", OUTPUT_PNG=None)
    try:
        processing.run("imis:councilmap", params, feedback=feedback)
    except QgsProcessingException:
        pass
    assert not pdf.exists()


@pytest.mark.parametrize("change, message", [
    ({"ZONE": "buildings_point"}, "point geometries"),
    ({"OUTPUT_PDF": None, "OUTPUT_PNG": None}, "Choose where to save the map"),
    ({"WARDS": None, "ATLAS_BY_WARD": True}, "needs the wards layer"),
    ({"TEMPLATE": "/nonexistent/council.qpt"}, "does not exist"),
])
def test_bad_input_is_named(imis_provider, analysis, base_layers, output_dir, change, message):
    params = map_parameters(analysis, base_layers, output_dir, "council_bad")
    for key, value in change.items():
        params[key] = base_layers["containments"] if value == "buildings_point" else value
    feedback = Feedback()
    with pytest.raises(QgsProcessingException):
        run_map(params, feedback)
    assert any(message in error for error in feedback.errors), feedback.errors


def test_template_is_shipped_and_opens_in_the_layout_manager(qgis_app, imis_package, clean_project):
    from pathlib import Path

    from qgis.core import QgsPrintLayout, QgsReadWriteContext
    from qgis.PyQt.QtXml import QDomDocument

    layouts = Path(imis_package.__file__).parent / "layouts"
    for name in ("council_map_landscape.qpt", "council_map_portrait.qpt"):
        document = QDomDocument()
        assert document.setContent((layouts / name).read_text(encoding="utf-8"))[0]
        layout = QgsPrintLayout(clean_project)
        _, ok = layout.loadFromTemplate(document, QgsReadWriteContext())
        assert ok
        layout.setName(name)
        assert clean_project.layoutManager().addLayout(layout)
        for item_id in ("map", "legend", "scalebar", "north_arrow", "title", "municipality", "buildings_table",
                        "containments_table", "parameters", "footer"):
            assert layout.itemById(item_id) is not None, (name, item_id)
        map_item = layout.itemById("map")
        assert map_item.rect().height() > 0 and map_item.extent().width() > 0


def test_postgis_base_layers_are_reopened_in_the_worker(imis_provider, analysis, sample_db, clean_project,
                                                        output_dir):
    from qgis.core import QgsDataSourceUri

    from imis.imis_plugin.layers import KEY_PROPERTY, MAP_LAYERS, _postgis_layer

    base = {}
    for spec in MAP_LAYERS:
        layer = _postgis_layer(spec, QgsDataSourceUri(sample_db.uri))
        assert layer.isValid(), spec.key
        layer.setCustomProperty(KEY_PROPERTY, spec.key)
        clean_project.addMapLayer(layer)
        base[spec.key] = layer
    result = run_map(map_parameters(analysis, base, output_dir, "council_map_postgis", OUTPUT_PNG=None))
    text = subprocess.run(["pdftotext", result["OUTPUT_PDF"], "-"], check=True, capture_output=True,
                          text=True).stdout
    wards = sample_db.query("SELECT ward FROM layer_info.wards WHERE deleted_at IS NULL ORDER BY ward")
    for (ward,) in wards:
        assert f"Ward {ward}" in text  # ward labels drawn from the reopened PostGIS layer
    (dbname,), = sample_db.query("SELECT current_database()")
    assert f"Data source: IMIS database {dbname}" in text


def test_selected_wards_get_pages_and_all_wards_are_drawn(imis_provider, analysis, base_layers, output_dir):
    from qgis.core import QgsProcessingFeatureSourceDefinition

    wards = base_layers["wards"]
    chosen = sorted(f["ward"] for f in wards.getFeatures())[:2]
    wards.selectByExpression(f'"ward" IN ({", ".join(str(w) for w in chosen)})')
    params = map_parameters(analysis, base_layers, output_dir, "council_some_wards", ATLAS_BY_WARD=True,
                            OUTPUT_PNG=None,
                            WARDS=QgsProcessingFeatureSourceDefinition(wards.id(), selectedFeaturesOnly=True))
    feedback = Feedback()
    try:
        result = run_map(params, feedback)
    except QgsProcessingException:
        pytest.fail(f"{feedback.errors}")
    assert pdf_info(result["OUTPUT_PDF"])[0] == 2
    first_page = subprocess.run(["pdftotext", "-f", "1", "-l", "1", result["OUTPUT_PDF"], "-"], check=True,
                                capture_output=True, text=True).stdout
    assert f"Ward {chosen[0]}:" in first_page  # the page note
    others = [f["ward"] for f in wards.getFeatures() if f["ward"] not in chosen]
    assert any(f"Ward {w}" in first_page for w in others)  # neighbours still drawn and labelled
