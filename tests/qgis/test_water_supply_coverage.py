"""imis:watersupplycoverage on the PostGIS sample town and its GeoPackage, against PostGIS oracles.

The oracle is plain SQL written for this test: nearest live pipe by geography distance (ties to
the smaller code), ward by ST_Intersects(ward, ST_Centroid(footprint)) (smaller ward first),
municipal sources by name, recorded codes looked up in the whole pipe table.
"""
import pytest
from qgis.core import QgsFeatureRequest, QgsProcessingException, QgsProcessingFeatureSourceDefinition, QgsVectorLayer

from tests.support.analysis import LIMIT_TOLERANCE, Feedback, execute, gpkg_layer, pg_layer, query, run, table_rows

ALG = "imis:watersupplycoverage"
D = 50.0
LABELS = {
    "connected": "connected, pipe within reach",
    "connected_no_pipe": "connected, no pipe within reach",
    "potential": "not connected, pipe within reach",
    "out_of_reach": "not connected, out of reach",
}
FAR, DELETED, MISSING = "pipe farther than the distance", "deleted pipe", "missing pipe"

ORACLE = """
WITH p AS (SELECT code, geom FROM utility_info.water_supplys WHERE deleted_at IS NULL AND geom IS NOT NULL),
b AS (SELECT * FROM building_info.buildings WHERE deleted_at IS NULL AND geom IS NOT NULL AND NOT ST_IsEmpty(geom)),
d AS (SELECT b.bin, p.code, ST_Distance(b.geom::geography, p.geom::geography) AS m
      FROM b JOIN p ON b.geom && ST_Expand(p.geom, 0.01)
      WHERE ST_DWithin(b.geom::geography, p.geom::geography, %(reach)s)),
ranked AS (SELECT bin, code, m, row_number() OVER (PARTITION BY bin ORDER BY m, code) AS r FROM d),
wd AS (SELECT DISTINCT ON (b.bin) b.bin, w.ward FROM b JOIN layer_info.wards w
       ON ST_Intersects(w.geom, ST_Centroid(b.geom)) WHERE w.deleted_at IS NULL ORDER BY b.bin, w.ward),
muni AS (SELECT id FROM building_info.water_sources WHERE source ILIKE '%%municipal%%'),
rec AS (SELECT b.bin, NULLIF(btrim(b.watersupply_pipe_code), '') AS code FROM b)
SELECT b.bin, n1.code, n1.m, n2.m, wd.ward, b.population_served, ws.source,
       b.water_source_id IN (SELECT id FROM muni) OR rec.code IS NOT NULL,
       rec.code,
       CASE WHEN rec.code IS NULL THEN NULL WHEN r.code IS NULL THEN 'missing pipe'
            WHEN r.deleted_at IS NOT NULL THEN 'deleted pipe'
            WHEN ST_Distance(b.geom::geography, r.geom::geography) > %(d)s THEN 'pipe farther than the distance' END,
       CASE WHEN r.code IS NOT NULL AND r.deleted_at IS NULL THEN ST_Distance(b.geom::geography, r.geom::geography) END
FROM b JOIN rec ON rec.bin = b.bin
LEFT JOIN ranked n1 ON n1.bin = b.bin AND n1.r = 1 LEFT JOIN ranked n2 ON n2.bin = b.bin AND n2.r = 2
LEFT JOIN wd ON wd.bin = b.bin LEFT JOIN building_info.water_sources ws ON ws.id = b.water_source_id
LEFT JOIN utility_info.water_supplys r ON r.code = rec.code
"""


def oracle(dsn, distance=D):
    """{BIN: expected values} of every live building with a footprint."""
    result = {}
    for (bin_, code, metres, second, ward, population, source, connected, recorded, flag,
         recorded_metres) in query(dsn, ORACLE, {"reach": distance + LIMIT_TOLERANCE, "d": distance}):
        within = code is not None and metres <= distance
        status = ("connected" if within else "connected_no_pipe") if connected else (
            "potential" if within else "out_of_reach")
        result[bin_] = dict(
            nearest=code if within else None, distance=metres if within else None, ward=ward, status=status,
            population=population, source=source, connected=connected, recorded=recorded, flag=flag,
            recorded_distance=recorded_metres,
            # Within 1 cm of the limit, or two pipes within 1 cm of each other: reported, not compared.
            at_limit=code is not None and abs(metres - distance) < LIMIT_TOLERANCE,
            tie=second is not None and second - metres < LIMIT_TOLERANCE)
    return result


def plain(value):
    return None if hasattr(value, "isNull") and value.isNull() else value


def features(layer):
    request = QgsFeatureRequest().setFlags(QgsFeatureRequest.NoGeometry)
    rows = {}
    for feature in layer.getFeatures(request):
        rows[feature["bin"]] = {name: plain(value) for name, value in zip(feature.fields().names(), feature.attributes())}
    return rows


def pg_inputs(db, subset=""):
    return {"PIPES": pg_layer(db, "water_supplys", subset), "BUILDINGS": pg_layer(db, "buildings", subset),
            "WARDS": pg_layer(db, "wards", subset)}


def gpkg_inputs(path, subset=""):
    if not subset:
        return {"PIPES": gpkg_layer(path, "water_supplys"), "BUILDINGS": gpkg_layer(path, "buildings"),
                "WARDS": gpkg_layer(path, "wards")}

    def filtered(name):
        # GeoPackage filters go in the URI (docs/ARCHITECTURE.md, platform traps).
        layer = QgsVectorLayer(f"{path}|layername={name}|subset={subset}", name, "ogr")
        assert layer.isValid() and layer.subsetString() == subset
        return layer

    return {"PIPES": filtered("water_supplys"), "BUILDINGS": filtered("buildings"), "WARDS": filtered("wards")}


def compare_buildings(output, expected):
    """Assert every building equals the oracle; returns (max distance difference, BINs at the limit)."""
    assert set(output) == set(expected)
    worst, at_limit = 0.0, []
    for bin_, want in expected.items():
        got = output[bin_]
        if want["at_limit"]:
            at_limit.append(bin_)
            continue
        assert got["status"] == LABELS[want["status"]], bin_
        assert got["connected"] == want["connected"], bin_
        assert got["ward"] == want["ward"], bin_
        assert got["population"] == want["population"], bin_
        assert got["water_source"] == want["source"], bin_
        assert got["pipe_code"] == want["recorded"], bin_
        assert got["pipe_code_flag"] == want["flag"], bin_
        if want["nearest"] is None:
            assert got["nearest_pipe"] is None and got["distance_m"] is None, bin_
        else:
            if not want["tie"]:
                assert got["nearest_pipe"] == want["nearest"], bin_
            worst = max(worst, abs(got["distance_m"] - want["distance"]))
        if want["recorded_distance"] is not None and want["flag"] == FAR:
            # Distances to a far recorded pipe only inform (up to about a kilometre): 10 cm.
            assert got["recorded_pipe_distance_m"] == pytest.approx(want["recorded_distance"], abs=0.1), bin_
    assert worst < LIMIT_TOLERANCE, f"distances differ from PostGIS geography by up to {worst:.4f} m"
    return worst, at_limit


def expected_wards(expected, output):
    """{ward: {status: count}, ...} of the oracle; buildings at the limit take the output's class."""
    labels = {label: key for key, label in LABELS.items()}
    counts = {}
    for bin_, want in expected.items():
        status = labels[output[bin_]["status"]] if want["at_limit"] else want["status"]
        ward = counts.setdefault(want["ward"], {"buildings": 0, "population": 0, **{key: 0 for key in LABELS}})
        ward["buildings"] += 1
        ward["population"] += want["population"] or 0
        ward[status] += 1
    return counts


_RUNS = {}


@pytest.fixture
def postgis_run(sample_db, imis_provider):
    """One run on the read-only sample town, shared by the tests that only read it."""
    if sample_db.dsn not in _RUNS:
        result, feedback = run(ALG, {**pg_inputs(sample_db), "DISTANCE": D})
        _RUNS[sample_db.dsn] = (result, feedback, oracle(sample_db.dsn))
    return _RUNS[sample_db.dsn]


def test_label_says_not_an_imis_analysis(imis_provider):
    from qgis.core import QgsApplication

    algorithm = QgsApplication.processingRegistry().algorithmById(ALG)
    assert "not an IMIS analysis" in algorithm.displayName()
    assert "Not an IMIS analysis" in algorithm.shortHelpString()


def test_postgis_buildings_equal_the_oracle(postgis_run, sample_db):
    result, feedback, expected = postgis_run
    assert result["EXECUTION"] == "PostGIS"
    output = features(result["OUTPUT_BUILDINGS"])
    worst, at_limit = compare_buildings(output, expected)
    print(f"PostGIS path: distances within {worst * 1000:.2f} mm of geography; at the limit: {at_limit}")
    # Every class occurs in the sample town, so each rule is exercised.
    assert {value["status"] for value in expected.values()} == set(LABELS)
    # Soft-deleted buildings and buildings without footprint are not classified; the latter are named.
    deleted = set(sample_db.manifest["deleted"]["buildings"])
    assert not deleted & set(output)
    null = [entry["bin"] for entry in sample_db.manifest["defects"]["NULL_FOOTPRINT"]]
    assert null and not set(null) & set(output)
    assert all(bin_ in feedback.text() for bin_ in null)
    assert result["BUILDINGS_CLASSIFIED"] == len(expected)


def test_gpkg_buildings_equal_the_oracle(sample_gpkg, sample_db, imis_provider):
    result, _ = run(ALG, {**gpkg_inputs(sample_gpkg), "DISTANCE": D})
    assert result["EXECUTION"] == "QGIS"
    worst, at_limit = compare_buildings(features(result["OUTPUT_BUILDINGS"]), oracle(sample_db.dsn))
    print(f"QGIS path: distances within {worst * 1000:.2f} mm of geography; at the limit: {at_limit}")


def test_ward_counts_equal_the_oracle(postgis_run, sample_db):
    result, feedback, expected = postgis_run
    output = features(result["OUTPUT_BUILDINGS"])
    counts = expected_wards(expected, output)
    wards = {plain(feature["ward"]): feature for feature in result["OUTPUT_WARDS"].getFeatures()}
    live_wards = {row[0] for row in query(sample_db.dsn, "SELECT ward FROM layer_info.wards WHERE deleted_at IS NULL")}
    assert set(wards) == live_wards | ({None} if None in counts else set())
    for ward, feature in wards.items():
        want = counts.get(ward, {"buildings": 0, "population": 0, **{key: 0 for key in LABELS}})
        assert feature["buildings"] == want["buildings"], ward
        assert feature["population"] == want["population"], ward
        for key in LABELS:
            assert feature[f"n_{key}"] == want[key], (ward, key)
            share = round(100.0 * want[key] / want["buildings"], 2) if want["buildings"] else 0.0
            assert feature[f"pct_{key}"] == pytest.approx(share), (ward, key)
        assert (feature.geometry() is None or feature.geometry().isNull()) == (ward is None)
    # Buildings outside every ward: counted, and said so (the sample town plants some).
    outside = counts.get(None, {"buildings": 0})["buildings"]
    assert outside == len(sample_db.manifest["defects"]["OUTSIDE_CITY"]) > 0
    assert result["OUTSIDE_WARDS"] == outside
    assert wards[None]["name"] == "Outside every ward"
    assert f"{outside} buildings lie outside every ward" in feedback.text()
    # The summary table: one row per ward, outside every ward, then the city total.
    rows = table_rows(result["OUTPUT_SUMMARY"])
    assert [row[0] for row in rows] == [f"Ward {ward}" for ward in sorted(live_wards)] + [
        "Outside every ward", "City total"]
    total = rows[-1]
    assert total[1] == len(expected)
    assert total[2] == sum(value["population"] or 0 for value in expected.values())
    assert total[3:7] == [sum(c[key] for c in counts.values()) for key in LABELS]
    for key, name in (("connected", "CONNECTED"), ("connected_no_pipe", "CONNECTED_NO_PIPE"),
                      ("potential", "POTENTIAL"), ("out_of_reach", "OUT_OF_REACH")):
        assert result[name] == sum(c[key] for c in counts.values())


def test_planted_pipe_codes_are_flagged(postgis_run, sample_db):
    result, _, _ = postgis_run
    output = features(result["OUTPUT_BUILDINGS"])
    defects = sample_db.manifest["defects"]
    deleted = [e for e in defects["CODE_DELETED"] if e["field"] == "watersupply_pipe_code"]
    assert deleted
    for entry in deleted:
        assert output[entry["bin"]]["pipe_code"] == entry["code"]
        assert output[entry["bin"]]["pipe_code_flag"] == DELETED
        assert entry["code"] in sample_db.manifest["deleted"]["water_supplys"]
    assert defects["CODE_FAR"]
    for entry in defects["CODE_FAR"]:
        got = output[entry["bin"]]
        assert got["pipe_code"] == entry["code"] and got["pipe_code_flag"] == FAR
        assert got["recorded_pipe_distance_m"] == pytest.approx(entry["distance_m"], abs=1.0)
        assert got["connected"] is True
    assert result["PIPE_CODE_FLAGS"] == sum(1 for value in output.values() if value["pipe_code_flag"])


def test_deleted_pipe_stays_deleted_behind_a_live_filter(sample_db, sample_gpkg, imis_provider):
    """Layers as "Load IMIS layers" gives them hide deleted rows; the code check still sees them."""
    entry = next(e for e in sample_db.manifest["defects"]["CODE_DELETED"] if e["field"] == "watersupply_pipe_code")
    live = '"deleted_at" IS NULL'
    for inputs in (pg_inputs(sample_db, live), gpkg_inputs(sample_gpkg, live)):
        result, _ = run(ALG, {**inputs, "DISTANCE": D})
        assert features(result["OUTPUT_BUILDINGS"])[entry["bin"]]["pipe_code_flag"] == DELETED, result["EXECUTION"]


def test_missing_pipe_and_connection_by_code(scratch_db, imis_provider):
    [(bin_missing,)], [(bin_code,)] = query(scratch_db.dsn, """
        SELECT bin FROM building_info.buildings WHERE deleted_at IS NULL AND geom IS NOT NULL
        AND watersupply_pipe_code IS NOT NULL ORDER BY bin LIMIT 1"""), query(scratch_db.dsn, """
        SELECT b.bin FROM building_info.buildings b JOIN building_info.water_sources s ON s.id = b.water_source_id
        WHERE b.deleted_at IS NULL AND b.geom IS NOT NULL AND b.watersupply_pipe_code IS NULL
        AND s.source NOT ILIKE '%%municipal%%' ORDER BY b.bin LIMIT 1""")
    # A code no pipe has needs the foreign key out of the way (as in a copied or imported table).
    execute(scratch_db.dsn, """
        ALTER TABLE building_info.buildings DROP CONSTRAINT IF EXISTS buildings_watersupply_pipe_code_fkey;
        UPDATE building_info.buildings SET watersupply_pipe_code = 'W-GONE' WHERE bin = %(missing)s;
        UPDATE building_info.buildings SET watersupply_pipe_code = (SELECT min(code) FROM utility_info.water_supplys
            WHERE deleted_at IS NULL) WHERE bin = %(code)s""", {"missing": bin_missing, "code": bin_code})
    result, _ = run(ALG, {**pg_inputs(scratch_db), "DISTANCE": D})
    output = features(result["OUTPUT_BUILDINGS"])
    assert output[bin_missing]["pipe_code_flag"] == MISSING
    assert output[bin_code]["connected"] is True
    assert output[bin_code]["status"].startswith("connected")
    compare_buildings(output, oracle(scratch_db.dsn))


def test_empty_ward_shows_zeros(scratch_db, imis_provider):
    # A new ward 1 km east of the town: no building centroid in it.
    execute(scratch_db.dsn, """
        INSERT INTO layer_info.wards (ward, geom)
        SELECT 99, ST_Multi(ST_MakeEnvelope(ST_XMax(e) + 0.01, ST_YMin(e), ST_XMax(e) + 0.02, ST_YMax(e), 4326))
        FROM (SELECT ST_Extent(geom)::geometry AS e FROM building_info.buildings) x""")
    result, _ = run(ALG, {**pg_inputs(scratch_db), "DISTANCE": D})
    ward = next(f for f in result["OUTPUT_WARDS"].getFeatures() if f["ward"] == 99)
    assert ward["buildings"] == 0 and ward["population"] == 0 and ward["coverage_pct"] == 0.0
    for key in LABELS:
        assert ward[f"n_{key}"] == 0 and ward[f"pct_{key}"] == 0.0
    row = next(r for r in table_rows(result["OUTPUT_SUMMARY"]) if r[0] == "Ward 99")
    assert row[1:] == [0] * 6 + [0.0] * 4 + [0, 0]


def test_town_without_pipes_is_out_of_reach_not_an_error(scratch_db, imis_provider):
    execute(scratch_db.dsn, "UPDATE utility_info.water_supplys SET deleted_at = now()")
    feedback = Feedback()
    result, _ = run(ALG, {**pg_inputs(scratch_db), "DISTANCE": D}, feedback)
    expected = oracle(scratch_db.dsn)
    assert result["PIPES_USED"] == 0
    assert result["CONNECTED"] == 0 and result["POTENTIAL"] == 0
    assert result["CONNECTED_NO_PIPE"] == sum(1 for value in expected.values() if value["connected"])
    assert result["OUT_OF_REACH"] == sum(1 for value in expected.values() if not value["connected"])
    assert "no live pipe" in feedback.text() and "every building is out of reach" in feedback.text()
    output = features(result["OUTPUT_BUILDINGS"])
    assert {value["nearest_pipe"] for value in output.values()} == {None}
    assert {value["pipe_code_flag"] for value in output.values() if value["pipe_code"]} == {DELETED}


def test_selected_pipes_only(sample_db, imis_provider):
    pipes = pg_layer(sample_db, "water_supplys")
    codes = sorted(f["code"] for f in pipes.getFeatures())[:10]
    pipes.selectByExpression(" OR ".join(f"\"code\" = '{code}'" for code in codes))
    inputs = pg_inputs(sample_db)
    from qgis.core import QgsProject

    QgsProject.instance().addMapLayer(pipes)
    inputs["PIPES"] = QgsProcessingFeatureSourceDefinition(pipes.id(), selectedFeaturesOnly=True)
    try:
        result, _ = run(ALG, {**inputs, "DISTANCE": D})
    finally:
        QgsProject.instance().removeMapLayer(pipes.id())
    near = {value["nearest_pipe"] for value in features(result["OUTPUT_BUILDINGS"]).values()} - {None}
    assert near and near <= set(codes)


def _memory_polygons(fields):
    layer = QgsVectorLayer(f"MultiPolygon?crs=EPSG:4326{fields}", "bare", "memory")
    assert layer.isValid()
    return layer


@pytest.mark.parametrize("change, message", [
    ({"DISTANCE": -5}, "zero or more"),
    ({"BUILDINGS": "wards"}, "no field bin"),
    ({"PIPES": "wards"}, "must have lines"),
    ({"WARDS": "bare"}, "no field ward"),
])
def test_bad_input_is_refused_with_its_reason(change, message, sample_db, imis_provider, tmp_path):
    inputs = pg_inputs(sample_db)
    bare = _memory_polygons("&field=name:string")
    for name, value in change.items():
        inputs[name] = {"wards": inputs["WARDS"], "bare": bare}.get(value, value) if isinstance(value, str) else value
    workbook = tmp_path / "coverage.xlsx"
    with pytest.raises(QgsProcessingException) as error:
        run(ALG, {"DISTANCE": D, **inputs, "OUTPUT_XLSX": str(workbook)})
    assert message in str(error.value)
    assert not workbook.exists()


def test_workbook_sheets_and_cells(postgis_run, sample_db, imis_provider, tmp_path):
    from openpyxl import load_workbook

    path = tmp_path / "water supply coverage.xlsx"
    result, _ = run(ALG, {**pg_inputs(sample_db), "DISTANCE": D, "OUTPUT_XLSX": str(path)})
    book = load_workbook(path)
    assert book.sheetnames == ["Coverage by Ward", "Building Status", "Pipe Code Checks", "Parameters"]
    coverage = book["Coverage by Ward"]
    assert all(cell.font.bold for cell in coverage[1])
    assert [[cell.value for cell in row] for row in coverage.iter_rows(min_row=2)] == \
        table_rows(result["OUTPUT_SUMMARY"])
    status = book["Building Status"]
    header = [cell.value for cell in status[1]]
    assert header[:4] == ["BIN", "Ward (by location)", "Status", "Connected"]
    output = features(result["OUTPUT_BUILDINGS"])
    rows = {row[0]: row for row in status.iter_rows(min_row=2, values_only=True)}
    assert set(rows) == set(output)
    some = sorted(output)[0]
    assert rows[some][2] == output[some]["status"]
    assert rows[some][3] == ("Yes" if output[some]["connected"] else "No")
    checks = [row for row in book["Pipe Code Checks"].iter_rows(min_row=2, values_only=True)]
    assert len(checks) == result["PIPE_CODE_FLAGS"] and all(row[6] for row in checks)
    parameters = {row[0]: row[1] for row in book["Parameters"].iter_rows(min_row=2, values_only=True)}
    assert "Not an IMIS analysis" in parameters["Note"]
    assert parameters["Reach of a service connection (m)"] == 50
    assert parameters["Ran in"] == "PostGIS"


def test_one_connection_when_no_snapshot_can_be_shared(postgis_run, sample_db, monkeypatch):
    """Where pg_export_snapshot is refused, both queries run in one transaction: same answer."""
    from imis.processing_algorithms import water_supply_postgis

    exported = []
    real = water_supply_postgis._export_snapshot

    def check(conn):
        exported.append(real(conn))
        conn.rollback()  # as when the server refuses: the transaction starts again
        return None

    monkeypatch.setattr(water_supply_postgis, "_export_snapshot", check)
    result, _ = run(ALG, {**pg_inputs(sample_db), "DISTANCE": D})
    assert exported and exported[0]  # the normal path really gets a snapshot to share
    assert features(result["OUTPUT_BUILDINGS"]) == features(postgis_run[0]["OUTPUT_BUILDINGS"])


def test_cancel_stops_both_database_queries(sample_db, imis_provider):
    import time

    class CancelWhenMeasuring(Feedback):
        def pushInfo(self, info):  # noqa: N802
            super().pushInfo(info)
            if "IMIS database" in info:
                self.cancel()

    started = time.monotonic()
    with pytest.raises(QgsProcessingException, match="Cancelled"):
        run(ALG, {**pg_inputs(sample_db), "DISTANCE": 5000}, CancelWhenMeasuring())
    assert time.monotonic() - started < 5
    active = sample_db.query("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'QGIS IMIS plugin' "
                             "AND state = 'active'")[0][0]
    assert active == 0


def test_loaded_outputs_are_styled_for_the_map(sample_db, imis_provider, clean_project):
    """As from the Processing dialog: the outputs load styled (status classes, ward choropleth)."""
    import processing

    inputs = pg_inputs(sample_db)
    result = processing.runAndLoadResults(ALG, {**inputs, "DISTANCE": D, "OUTPUT_BUILDINGS": "TEMPORARY_OUTPUT",
                                                "OUTPUT_WARDS": "TEMPORARY_OUTPUT",
                                                "OUTPUT_SUMMARY": "TEMPORARY_OUTPUT"}, feedback=Feedback())
    buildings = clean_project.mapLayer(result["OUTPUT_BUILDINGS"])
    wards = clean_project.mapLayer(result["OUTPUT_WARDS"])
    assert buildings.renderer().type() == "categorizedSymbol"
    assert buildings.renderer().classAttribute() == "status"
    assert sorted(c.value() for c in buildings.renderer().categories()) == sorted(LABELS.values())
    assert wards.renderer().type() == "graduatedSymbol"
    assert wards.renderer().classAttribute() == "coverage_pct"
    assert "outside every ward" in wards.name()


def test_buildings_in_another_crs(sample_gpkg, sample_db, imis_provider):
    """Buildings in UTM 45N, pipes and wards in EPSG:4326: measured in metres all the same."""
    import processing

    inputs = gpkg_inputs(sample_gpkg)
    inputs["BUILDINGS"] = processing.run("native:reprojectlayer", {
        "INPUT": inputs["BUILDINGS"], "TARGET_CRS": "EPSG:32645", "OUTPUT": "TEMPORARY_OUTPUT"})["OUTPUT"]
    result, _ = run(ALG, {**inputs, "DISTANCE": D})
    assert result["EXECUTION"] == "QGIS"
    assert result["OUTPUT_BUILDINGS"].crs().authid() == "EPSG:32645"
    compare_buildings(features(result["OUTPUT_BUILDINGS"]), oracle(sample_db.dsn))
