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
    # The filter goes in the URI (docs/ARCHITECTURE.md, known platform traps).
    layer = QgsVectorLayer(f'{path}|layername=buildings|subset="deleted_at" IS NULL', "Buildings", "ogr")
    assert layer.isValid()
    QgsProject.instance().addMapLayer(layer)
    return layer


class Feedback(QgsProcessingFeedback):
    """Keeps the messages the algorithm reports (Processing's exception only says it failed)."""

    def __init__(self):
        super().__init__()
        self.errors = []

    def reportError(self, error, fatalError=False):  # noqa: N802
        self.errors.append(error)
        super().reportError(error, fatalError)


def run_checks(buildings, **extra):
    params = {"BUILDINGS": buildings, "OUTPUT": "memory:", "OUTPUT_AREAS": "memory:", "SUMMARY": "memory:"}
    params.update(extra)
    feedback = Feedback()
    try:
        result = processing.run("imis:surveychecks", params, feedback=feedback)
    except QgsProcessingException as error:
        raise QgsProcessingException(" | ".join(feedback.errors) or str(error)) from None
    issues = [{name: f[name] for name in f.fields().names()} | {"geometry": f.geometry()}
              for f in result["OUTPUT"].getFeatures()]
    for issue in issues:
        issue.update({k: None for k, v in issue.items() if k != "geometry" and v is not None and
                      hasattr(v, "isNull") and v.isNull()})
    summary = {f["code"]: {n: f[n] for n in f.fields().names()} for f in result["SUMMARY"].getFeatures()}
    return result, issues, summary


def ids_of(issue):
    return {v for v in (issue["bin"], issue["containment_id"], issue["other_id"]) if v}


_KEEP_ALIVE = []  # the registry does not keep a Python provider alive


@pytest.fixture(scope="module")
def postgis_run(qgis_app, qgis_processing, sample_db, imis_package):
    from qgis.core import QgsApplication

    if QgsApplication.processingRegistry().providerById("imis") is None:
        from imis.imis_plugin.provider import ImisProvider

        _KEEP_ALIVE.append(ImisProvider())
        QgsApplication.processingRegistry().addProvider(_KEEP_ALIVE[-1])
    QgsProject.instance().clear()
    return run_checks(postgis_buildings(sample_db))


def test_every_planted_defect_is_found_with_its_code(postgis_run, sample_db):
    _, issues, summary = postgis_run
    defects = planted(sample_db.manifest)
    assert {d.kind for d in defects} == set(CODE_FOR), "the sample town plants every kind of defect"
    for defect in defects:
        code = CODE_FOR[defect.kind]
        matches = [i for i in issues if i["code"] == code and defect.ids <= ids_of(i)]
        assert len(matches) == 1, f"{defect.kind} {sorted(defect.ids)} reported {len(matches)} times as {code}"
        issue = matches[0]
        assert issue["severity"] == summary[code]["severity"]
        assert all(x in issue["message"] for x in defect.ids), issue["message"]
        assert not issue["geometry"].isEmpty() or defect.kind == "NULL_FOOTPRINT"
        record = defect.record
        if defect.kind == "WARD_MISMATCH":
            assert issue["other_id"] == str(record["containing_ward"])
        elif defect.kind == "AREA_MISMATCH":
            assert issue["value"] == pytest.approx(record["true_area"], abs=0.01)
            assert f"{record['estimated_area']:,.2f} m²" in issue["message"]
        elif defect.kind == "SLIVER":
            assert issue["value"] == pytest.approx(record["area"], abs=0.01)
        elif defect.kind == "CODE_FAR":
            assert issue["value"] == pytest.approx(record["distance_m"], rel=0.01)
            assert record["field"] in issue["message"]
        elif defect.kind == "CODE_DELETED":
            assert record["field"] in issue["message"]
    for code in ALL_CODES:
        assert summary[code]["status"] == "ran"
        assert summary[code]["issues"] == sum(1 for i in issues if i["code"] == code)


def test_clean_features_raise_nothing(postgis_run, sample_db):
    """The manifest lists every defective building and containment; all other rows are clean."""
    _, issues, _ = postgis_run
    manifest = sample_db.manifest
    defect_bins = set(manifest["defect_bins"])
    defect_containments = set(manifest["defect_containments"])
    # Outside-city buildings lie in no ward: the ward check names them too (see the manifest notes).
    ward_extra = {r["bin"] for r in manifest["defects"]["OUTSIDE_CITY"]}
    for issue in issues:
        bins = {issue["bin"]} | ({issue["other_id"]} if issue["code"] in (
            "FOOTPRINT_DUPLICATE", "FOOTPRINT_OVERLAP") else set())
        bins.discard(None)
        assert bins <= defect_bins, f"{issue['code']} on clean building(s) {sorted(bins - defect_bins)}"
        if issue["containment_id"]:
            assert issue["containment_id"] in defect_containments, issue["message"]
        if issue["code"] == "WARD_MISMATCH" and issue["bin"] in ward_extra:
            assert issue["other_id"] is None
    kinds_per_bin = {}
    for issue in issues:
        if issue["bin"] and not issue["containment_id"]:
            kinds_per_bin.setdefault(issue["bin"], set()).add(issue["code"])
    for bin_, kinds in manifest["defect_bins"].items():
        expected = {CODE_FOR[k] for k in kinds} | ({"WARD_MISMATCH"} if bin_ in ward_extra else set())
        # duplicates are reported as duplicates, not again as overlaps
        if "FOOTPRINT_DUPLICATE" in expected and "FOOTPRINT_OVERLAP" not in {
                CODE_FOR[k] for k in kinds if k != "OVERLAP"}:
            expected.discard("FOOTPRINT_OVERLAP")
        got = kinds_per_bin.get(bin_, set()) | {i["code"] for i in issues if i["other_id"] == bin_ and
                                                i["code"].startswith("FOOTPRINT_")}
        assert got <= expected, (bin_, got, expected)
    clean = sample_db.query(
        "SELECT bin FROM building_info.buildings WHERE deleted_at IS NULL AND NOT (bin = ANY(%s)) "
        "ORDER BY bin LIMIT 50", (sorted(defect_bins),))
    reported = set().union(*(ids_of(i) for i in issues))
    assert len(clean) == 50 and not {row[0] for row in clean} & reported


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
    with pytest.raises(QgsProcessingException, match="Layer 'Sketch' has no 'bin' field"):
        run_checks(memory)
