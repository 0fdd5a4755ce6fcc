"""imis:surveychecks on the sample town: every planted defect is found with the right code, clean
features raise nothing, both engines (PostGIS, GeoPackage) agree, plain-SQL oracles agree."""
import processing
import pytest
from openpyxl import load_workbook
from qgis.core import (
    QgsDataSourceUri,
    QgsProcessingException,
    QgsProcessingFeatureSourceDefinition,
    QgsProcessingFeedback,
    QgsProject,
    QgsVectorLayer,
)

from tests.qgis.survey_manifest import CODE_FOR, planted

ALL_CODES = ("FOOTPRINT_INVALID", "FOOTPRINT_MISSING", "FOOTPRINT_NOT_MULTIPOLYGON", "FOOTPRINT_DUPLICATE",
             "FOOTPRINT_OVERLAP", "FOOTPRINT_SLIVER", "FOOTPRINT_OUTSIDE_CITY", "WARD_MISMATCH", "AREA_MISMATCH",
             "CONTAINMENT_FAR", "CONTAINMENT_UNLINKED", "CONTAINMENT_MISSING", "NETWORK_CODE_UNKNOWN",
             "NETWORK_CODE_DELETED", "NETWORK_CODE_FAR")


def postgis_buildings(db):
    uri = QgsDataSourceUri(db.uri)
    uri.setDataSource("building_info", "buildings", "geom", '"deleted_at" IS NULL', "bin")
    layer = QgsVectorLayer(uri.uri(False), "Buildings", "postgres")
    assert layer.isValid()
    QgsProject.instance().addMapLayer(layer)
    return layer


def gpkg_buildings(path):
    layer = QgsVectorLayer(f"{path}|layername=buildings", "Buildings", "ogr")
    assert layer.isValid()
    layer.setSubsetString('"deleted_at" IS NULL')
    QgsProject.instance().addMapLayer(layer)
    return layer


def run_checks(buildings, **extra):
    params = {"BUILDINGS": buildings, "OUTPUT": "memory:", "OUTPUT_AREAS": "memory:", "SUMMARY": "memory:"}
    params.update(extra)
    result = processing.run("imis:surveychecks", params)
    issues = [{name: f[name] for name in f.fields().names()} | {"geometry": f.geometry()}
              for f in result["OUTPUT"].getFeatures()]
    for issue in issues:
        issue.update({k: None for k, v in issue.items() if k != "geometry" and v is not None and
                      hasattr(v, "isNull") and v.isNull()})
    summary = {f["code"]: {n: f[n] for n in f.fields().names()} for f in result["SUMMARY"].getFeatures()}
    return result, issues, summary


def ids_of(issue):
    return {v for v in (issue["bin"], issue["containment_id"], issue["other_id"]) if v}


@pytest.fixture(scope="module")
def postgis_run(qgis_app, qgis_processing, sample_db):
    from qgis.core import QgsApplication

    if QgsApplication.processingRegistry().providerById("imis") is None:
        from imis.imis_plugin.provider import ImisProvider

        QgsApplication.processingRegistry().addProvider(ImisProvider())
    QgsProject.instance().clear()
    return run_checks(postgis_buildings(sample_db))


def test_every_planted_defect_is_found_with_its_code(postgis_run, sample_db):
    _, issues, summary = postgis_run
    defects = planted(sample_db.manifest)
    assert {CODE_FOR[d.kind] for d in defects} >= set(CODE_FOR.values()) - {"NETWORK_CODE_UNKNOWN"}, \
        "the sample town plants every kind of defect"
    for defect in defects:
        code = CODE_FOR[defect.kind]
        matches = [i for i in issues if i["code"] == code and defect.ids <= ids_of(i)]
        assert matches, f"{defect.kind} {sorted(defect.ids)} not reported as {code}"
        issue = matches[0]
        assert issue["severity"] == summary[code]["severity"]
        assert any(x in issue["message"] for x in defect.ids), issue["message"]
    for code in ALL_CODES:
        assert summary[code]["status"] == "ran"
        assert summary[code]["issues"] == sum(1 for i in issues if i["code"] == code)


def test_clean_features_raise_nothing(postgis_run, sample_db):
    _, issues, _ = postgis_run
    named = set()
    for defect in planted(sample_db.manifest):
        named |= defect.ids | defect.related
    reported = set().union(*(ids_of(i) for i in issues)) if issues else set()
    unexpected = sorted(reported - named)
    assert not unexpected, f"issues on features the sample town keeps clean: {unexpected[:20]}"
    clean = sample_db.query(
        "SELECT bin FROM building_info.buildings WHERE deleted_at IS NULL AND NOT (bin = ANY(%s)) "
        "ORDER BY bin LIMIT 50", (sorted(named),))
    assert clean and not {row[0] for row in clean} & reported


def test_counts_agree_with_plain_sql_oracles(postgis_run, sample_db):
    _, issues, summary = postgis_run
    by_code = lambda code: sorted(i["bin"] for i in issues if i["code"] == code)  # noqa: E731
    assert by_code("FOOTPRINT_INVALID") == [r[0] for r in sample_db.query(
        "SELECT bin FROM building_info.buildings WHERE deleted_at IS NULL AND geom IS NOT NULL "
        "AND NOT ST_IsEmpty(geom) AND NOT ST_IsValid(geom) ORDER BY bin")]
    assert by_code("FOOTPRINT_MISSING") == [r[0] for r in sample_db.query(
        "SELECT bin FROM building_info.buildings WHERE deleted_at IS NULL AND (geom IS NULL OR ST_IsEmpty(geom)) "
        "ORDER BY bin")]
    # Area: plain spheroid area, 5 % default share, NULL estimated_area counts.
    assert by_code("AREA_MISMATCH") == [r[0] for r in sample_db.query(
        "SELECT bin FROM building_info.buildings WHERE deleted_at IS NULL AND geom IS NOT NULL "
        "AND NOT ST_IsEmpty(geom) AND ST_IsValid(geom) AND (estimated_area IS NULL OR "
        "abs(estimated_area - ST_Area(geom::geography)) > 0.05 * ST_Area(geom::geography)) ORDER BY bin")]
    # Unlinked containments, written differently (anti-join on counts).
    assert sorted(i["containment_id"] for i in issues if i["code"] == "CONTAINMENT_UNLINKED") == [
        r[0] for r in sample_db.query(
            "SELECT c.id FROM fsm.containments c LEFT JOIN (SELECT l.containment_id, count(*) n "
            "FROM building_info.build_contains l JOIN building_info.buildings b ON b.bin = l.bin "
            "WHERE l.deleted_at IS NULL AND b.deleted_at IS NULL GROUP BY 1) k ON k.containment_id = c.id "
            "WHERE c.deleted_at IS NULL AND k.n IS NULL ORDER BY c.id")]
    # Overlap shares: recomputed pair by pair with ST_Area on the spheroid.
    for issue in (i for i in issues if i["code"] == "FOOTPRINT_OVERLAP"):
        share = sample_db.query(
            "SELECT ST_Area(ST_Intersection(a.geom, b.geom)::geography) / "
            "least(ST_Area(a.geom::geography), ST_Area(b.geom::geography)) "
            "FROM building_info.buildings a, building_info.buildings b WHERE a.bin = %s AND b.bin = %s",
            (issue["bin"], issue["other_id"]))[0][0]
        assert issue["value"] == pytest.approx(share, rel=1e-6) and share > 0.10
    # Containment distances: metres on the spheroid.
    for issue in (i for i in issues if i["code"] == "CONTAINMENT_FAR"):
        distance = sample_db.query(
            "SELECT min(ST_Distance(c.geom::geography, b.geom::geography)) FROM fsm.containments c "
            "JOIN building_info.build_contains l ON l.containment_id = c.id AND l.deleted_at IS NULL "
            "JOIN building_info.buildings b ON b.bin = l.bin AND b.deleted_at IS NULL WHERE c.id = %s",
            (issue["containment_id"],))[0][0]
        assert issue["value"] == pytest.approx(distance, abs=0.01) and distance > 30


def test_geopackage_engine_agrees_with_postgis(postgis_run, sample_gpkg):
    _, pg_issues, pg_summary = postgis_run
    _, gp_issues, gp_summary = run_checks(gpkg_buildings(sample_gpkg))
    key = lambda i: (i["code"], i["bin"], i["containment_id"], i["other_id"])  # noqa: E731
    assert sorted(map(key, gp_issues), key=str) == sorted(map(key, pg_issues), key=str)
    assert {c: s["issues"] for c, s in gp_summary.items()} == {c: s["issues"] for c, s in pg_summary.items()}
    pg_values = {key(i): i["value"] for i in pg_issues}
    for issue in gp_issues:
        if issue["value"] is not None:
            assert issue["value"] == pytest.approx(pg_values[key(issue)], rel=1e-3, abs=0.05), key(issue)


def test_thresholds_and_check_choice(imis_provider, clean_project, sample_db):
    layer = postgis_buildings(sample_db)
    overlap = ALL_CODES.index("FOOTPRINT_OVERLAP")
    _, loose, summary = run_checks(layer, CHECKS=[overlap], OVERLAP_SHARE=0.0)
    _, strict, _ = run_checks(layer, CHECKS=[overlap], OVERLAP_SHARE=99.0)
    assert {i["code"] for i in loose} == {"FOOTPRINT_OVERLAP"}
    assert len(strict) < len(loose)
    assert summary["FOOTPRINT_INVALID"]["status"] == "not chosen"
    assert summary["FOOTPRINT_OVERLAP"]["threshold"] == "0 %"


def test_selected_buildings_only(imis_provider, clean_project, sample_db, postgis_run):
    _, all_issues, _ = postgis_run
    layer = postgis_buildings(sample_db)
    chosen = sorted({i["bin"] for i in all_issues if i["bin"] and i["code"].startswith("FOOTPRINT")})[:3]
    layer.selectByExpression('"bin" IN (' + ",".join(f"'{b}'" for b in chosen) + ")")
    source = QgsProcessingFeatureSourceDefinition(layer.id(), selectedFeaturesOnly=True)
    _, issues, summary = run_checks(source)
    assert issues
    assert all(i["bin"] in chosen or i["other_id"] in chosen for i in issues)
    expected = [i for i in all_issues if i["code"].startswith("FOOTPRINT") and
                (i["bin"] in chosen or i["other_id"] in chosen)]
    assert len([i for i in issues if i["code"].startswith("FOOTPRINT")]) == len(expected)
    assert summary["CONTAINMENT_UNLINKED"]["status"].startswith("skipped")


def test_workbook_and_area_layer(imis_provider, clean_project, sample_db, output_dir):
    path = output_dir / "survey_checks.xlsx"
    result, issues, summary = run_checks(postgis_buildings(sample_db), WORKBOOK=str(path))
    book = load_workbook(path)
    assert book.sheetnames == ["Summary", "Issues"]
    assert book["Summary"].max_row == 1 + len(ALL_CODES)
    assert book["Issues"].max_row == 1 + len(issues)
    assert [c.value for c in book["Issues"][1]][:3] == ["Code", "Severity", "Message"]
    areas = list(result["OUTPUT_AREAS"].getFeatures())
    assert areas and all(f.geometry().type() == 2 for f in areas)  # polygons
    assert result["ISSUES"] == len(issues)
    assert result["ERRORS"] == sum(1 for i in issues if i["severity"] == "error")


def test_cancel_stops_without_results(imis_provider, clean_project, sample_db):
    class CancelSoon(QgsProcessingFeedback):
        def setProgress(self, value):  # noqa: N802
            super().setProgress(value)
            if value > 0:
                self.cancel()

    feedback = CancelSoon()
    result = processing.run("imis:surveychecks", {
        "BUILDINGS": postgis_buildings(sample_db), "OUTPUT": "memory:", "SUMMARY": "memory:"}, feedback=feedback)
    assert feedback.isCanceled()
    assert "OUTPUT" not in result or result.get("ISSUES") is None


def test_bad_input_is_named(imis_provider, clean_project):
    memory = QgsVectorLayer("Polygon?crs=EPSG:4326&field=name:string", "Sketch", "memory")
    QgsProject.instance().addMapLayer(memory)
    with pytest.raises(QgsProcessingException, match="Sketch.*no 'bin' field"):
        run_checks(memory)
