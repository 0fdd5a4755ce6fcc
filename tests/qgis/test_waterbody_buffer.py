"""imis:waterbodybuffer on the PostGIS sample town, against independent PostGIS oracles."""
import pytest
from qgis.core import QgsProcessingException, QgsWkbTypes

from tests.support.analysis import (
    LIMIT_TOLERANCE,
    by_key,
    containment_summary,
    oracle_containments,
    oracle_distances,
    oracle_imis_bins,
    oracle_summary,
    pg_layer,
    run,
    split_at_limit,
    table_rows,
)

ALG = "imis:waterbodybuffer"


def _params(db, distance, types="", **extra):
    return {"WATERBODIES": pg_layer(db, "waterbodys"), "WATERBODY_TYPE": types,
            "BUILDINGS": pg_layer(db, "buildings"), "CONTAINMENTS": pg_layer(db, "containments"),
            "DISTANCE": distance, **extra}


def check_against_oracle(db, result, distance, types=None, ids=None):
    """The result equals the geography oracle; buildings within 1 cm of the limit are reported."""
    oracle = oracle_distances(db.dsn, distance, types, ids)
    inside, near = split_at_limit(oracle, distance)
    got = by_key(result["OUTPUT_BUILDINGS"], "bin", "distance_m")
    near |= {bin_ for bin_, metres in got.items() if abs(metres - distance) < LIMIT_TOLERANCE}
    if near:
        print(f"{len(near)} buildings within 1 cm of {distance} m (not compared): {sorted(near)}")
    assert set(got) - near == inside - near
    for bin_, metres in got.items():
        if bin_ in oracle:
            # PostGIS geography finds its closest points on the sphere and measures them on the
            # spheroid: within 2 mm nearly always, now and then ~1 cm too long (never too short;
            # tests/qgis/test_metric.py checks ours against a brute-force geodesic).
            assert -0.005 <= oracle[bin_] - metres <= 0.02, (bin_, metres, oracle[bin_])
    assert result["BUILDINGS_IN_ZONE"] == len(got)
    zone_bins = set(got)
    assert table_rows(result["OUTPUT_SUMMARY"]) == oracle_summary(db.dsn, zone_bins)
    containments = oracle_containments(db.dsn, zone_bins, distance, types, ids)
    assert set(by_key(result["OUTPUT_CONTAINMENTS"], "id", "containment_type")) == set(containments)
    assert table_rows(result["OUTPUT_CONTAINMENT_SUMMARY"]) == containment_summary(containments, db.dsn)
    return zone_bins


def test_rivers_at_100_m_equal_the_geography_oracle(sample_db, imis_provider):
    result, feedback = run(ALG, _params(sample_db, 100, "River"))
    assert result["EXECUTION"] == "PostGIS"
    bins = check_against_oracle(sample_db, result, 100, ["river"])
    assert bins, "the sample town must have buildings near its rivers"
    assert result["WATERBODIES_USED"] == sample_db.query(
        "SELECT count(*) FROM layer_info.waterbodys WHERE deleted_at IS NULL AND lower(btrim(type)) = 'river'")[0][0]
    assert "left out" in feedback.text().lower() or result["BUILDINGS_LEFT_OUT"] == 0


def test_all_water_bodies_at_a_fractional_distance(sample_db, imis_provider):
    result, _ = run(ALG, _params(sample_db, 37.5))
    check_against_oracle(sample_db, result, 37.5)
    counted = sum(row[1] for row in table_rows(result["OUTPUT_SUMMARY"])[:-1])
    assert counted == result["BUILDINGS_COUNTED"] == result["BUILDINGS_IN_ZONE"] - result["BUILDINGS_LEFT_OUT"]


def test_zero_distance_means_touching_or_overlapping(sample_db, imis_provider):
    result, _ = run(ALG, _params(sample_db, 0))
    got = by_key(result["OUTPUT_BUILDINGS"], "bin", "distance_m")
    assert all(metres < 0.005 for metres in got.values())
    inside, near = split_at_limit(oracle_distances(sample_db.dsn, 0), 0)
    assert set(got) | near == inside | near


def test_imis_compatible_reproduces_the_imis_buffer(sample_db, imis_provider):
    result, feedback = run(ALG, _params(sample_db, 100, "River", IMIS_COMPATIBLE=True))
    got = set(by_key(result["OUTPUT_BUILDINGS"], "bin", "distance_m"))
    assert got == oracle_imis_bins(sample_db.dsn, 100, ["river"])
    exact = split_at_limit(oracle_distances(sample_db.dsn, 100, ["river"]), 100)[0]
    assert got <= exact | split_at_limit(oracle_distances(sample_db.dsn, 100, ["river"]), 100)[1]
    assert "IMIS-compatible" in feedback.text()
    zone = next(result["OUTPUT_ZONE"].getFeatures())
    assert zone.geometry().type() == QgsWkbTypes.PolygonGeometry


def test_selected_features_only_uses_the_selection(sample_db, imis_provider):
    from qgis.core import QgsProcessingFeatureSourceDefinition

    waterbodies = pg_layer(sample_db, "waterbodys")
    river_id = sample_db.query("SELECT min(id) FROM layer_info.waterbodys WHERE deleted_at IS NULL "
                               "AND lower(btrim(type)) = 'river'")[0][0]
    waterbodies.selectByExpression(f'"id" = {int(river_id)}')
    params = _params(sample_db, 100)
    params["WATERBODIES"] = QgsProcessingFeatureSourceDefinition(waterbodies.id(), True)
    from qgis.core import QgsProject

    QgsProject.instance().addMapLayer(waterbodies)
    try:
        result, _ = run(ALG, params)
    finally:
        QgsProject.instance().removeMapLayer(waterbodies.id())
    assert result["WATERBODIES_USED"] == 1
    assert result["EXECUTION"] == "PostGIS"
    check_against_oracle(sample_db, result, 100, ids=[river_id])
    assert {f["waterbody_id"] for f in result["OUTPUT_BUILDINGS"].getFeatures()} <= {river_id}


def test_layers_with_a_live_filter_give_the_same_answer(sample_db, imis_provider):
    live = '"deleted_at" IS NULL'
    plain, _ = run(ALG, _params(sample_db, 60))
    params = {"WATERBODIES": pg_layer(sample_db, "waterbodys", live), "BUILDINGS": pg_layer(sample_db, "buildings", live),
              "CONTAINMENTS": pg_layer(sample_db, "containments", live), "DISTANCE": 60}
    filtered, _ = run(ALG, params)
    assert by_key(plain["OUTPUT_BUILDINGS"], "bin", "distance_m") == \
        by_key(filtered["OUTPUT_BUILDINGS"], "bin", "distance_m")
    assert table_rows(plain["OUTPUT_CONTAINMENT_SUMMARY"]) == table_rows(filtered["OUTPUT_CONTAINMENT_SUMMARY"])


def test_without_containments_layer(sample_db, imis_provider):
    params = _params(sample_db, 100, "River")
    del params["CONTAINMENTS"]
    result, _ = run(ALG, params)
    assert result["CONTAINMENTS_IN_ZONE"] == 0 and result["OUTPUT_CONTAINMENTS"].featureCount() == 0
    assert result["BUILDINGS_IN_ZONE"] > 0


@pytest.mark.parametrize("distance, message", [(-5, "zero or more"), ("abc", "number of metres"),
                                               (float("nan"), "finite")])
def test_bad_distance_is_refused_with_a_message(sample_db, imis_provider, distance, message):
    with pytest.raises(QgsProcessingException, match=message):
        run(ALG, _params(sample_db, distance))


def test_wrong_layers_are_refused_with_messages(sample_db, imis_provider):
    params = _params(sample_db, 100)
    params["WATERBODIES"] = pg_layer(sample_db, "containments")
    with pytest.raises(QgsProcessingException, match="has points; it must have polygons or lines"):
        run(ALG, params)
    params = _params(sample_db, 100)
    params["BUILDINGS"] = pg_layer(sample_db, "waterbodys")
    with pytest.raises(QgsProcessingException, match="has no field bin"):
        run(ALG, params)
    with pytest.raises(QgsProcessingException, match=r"No water body of type 'Lake'.*Stored types: .*River"):
        run(ALG, _params(sample_db, 100, "River, Lake"))


def test_empty_selection_is_refused(sample_db, imis_provider):
    from qgis.core import QgsProcessingFeatureSourceDefinition, QgsProject

    waterbodies = pg_layer(sample_db, "waterbodys")
    QgsProject.instance().addMapLayer(waterbodies)
    try:
        params = _params(sample_db, 100)
        params["WATERBODIES"] = QgsProcessingFeatureSourceDefinition(waterbodies.id(), True)
        with pytest.raises(QgsProcessingException, match="No feature is selected in the water body layer"):
            run(ALG, params)
    finally:
        QgsProject.instance().removeMapLayer(waterbodies.id())


def test_cancel_stops_the_database_query(sample_db, imis_provider):
    import time

    from tests.support.analysis import Feedback

    class CancelWhenQuerying(Feedback):
        def pushInfo(self, info):  # noqa: N802
            super().pushInfo(info)
            if "IMIS database" in info:
                self.cancel()

    started = time.monotonic()
    with pytest.raises(QgsProcessingException, match="Cancelled"):
        run(ALG, _params(sample_db, 20000), CancelWhenQuerying())
    assert time.monotonic() - started < 5
    active = sample_db.query("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'QGIS IMIS plugin' "
                             "AND state = 'active'")[0][0]
    assert active == 0
