"""imis:pointbuffer (IMIS "Point Buffer Summary Information") on the sample town, against plain
PostGIS oracles: geography distances from the point, IMIS's summary rows and containment rule."""
import openpyxl
import pytest
from qgis.core import (QgsCoordinateReferenceSystem, QgsCoordinateTransform, QgsPointXY, QgsProcessingException,
                       QgsProject)

from tests.support.analysis import (LIMIT_TOLERANCE, by_key, containment_summary, gpkg_layer, oracle_summary,
                                    pg_layer, query, run, table_rows)

ALG = "imis:pointbuffer"


def town_point(db):
    """A point among the buildings: the centroid of the middle building (by BIN)."""
    return db.query("""
        SELECT ST_X(ST_Centroid(geom)), ST_Y(ST_Centroid(geom)) FROM building_info.buildings
        WHERE deleted_at IS NULL AND geom IS NOT NULL ORDER BY bin
        OFFSET (SELECT count(*) / 2 FROM building_info.buildings WHERE deleted_at IS NULL) LIMIT 1""")[0]


def oracle_distances(dsn, lon, lat, distance):
    """{BIN: geodesic metres} of live buildings within distance + 1 cm of the point."""
    return dict(query(dsn, """
        SELECT bin, ST_Distance(geom::geography, ST_SetSRID(ST_MakePoint(%(x)s, %(y)s), 4326)::geography)
        FROM building_info.buildings
        WHERE deleted_at IS NULL AND geom IS NOT NULL
          AND ST_DWithin(geom::geography, ST_SetSRID(ST_MakePoint(%(x)s, %(y)s), 4326)::geography, %(r)s)""",
                      {"x": lon, "y": lat, "r": distance + LIMIT_TOLERANCE}))


def oracle_containments(dsn, bins, lon, lat, distance):
    """{id: type label}: live containments linked (live link) to a zone building, plus live
    unlinked containments whose own point is within the distance of the point."""
    return dict(query(dsn, """
        WITH live_links AS (
            SELECT l.containment_id, l.bin FROM building_info.build_contains l
            JOIN building_info.buildings b ON b.bin = l.bin AND b.deleted_at IS NULL WHERE l.deleted_at IS NULL),
        chosen AS (
            SELECT c.id FROM fsm.containments c WHERE c.deleted_at IS NULL
              AND EXISTS (SELECT 1 FROM live_links l WHERE l.containment_id = c.id AND l.bin = ANY(%(bins)s))
            UNION
            SELECT c.id FROM fsm.containments c WHERE c.deleted_at IS NULL
              AND NOT EXISTS (SELECT 1 FROM live_links l WHERE l.containment_id = c.id)
              AND ST_DWithin(c.geom::geography, ST_SetSRID(ST_MakePoint(%(x)s, %(y)s), 4326)::geography, %(d)s))
        SELECT x.id, ct.type FROM chosen x JOIN fsm.containments c ON c.id = x.id
        LEFT JOIN fsm.containment_types ct ON ct.id = c.type_id""",
                      {"bins": sorted(bins), "x": lon, "y": lat, "d": distance}))


def _params(buildings, containments, point, distance, **extra):
    return {"POINT": point, "BUILDINGS": buildings, "CONTAINMENTS": containments, "DISTANCE": distance, **extra}


def _pg(db, point, distance, **extra):
    return _params(pg_layer(db, "buildings"), pg_layer(db, "containments"), point, distance, **extra)


def check(db, result, lon, lat, distance):
    oracle = oracle_distances(db.dsn, lon, lat, distance)
    near = {b for b, d in oracle.items() if abs(d - distance) < LIMIT_TOLERANCE}
    inside = {b for b, d in oracle.items() if d <= distance and b not in near}
    got = by_key(result["OUTPUT_BUILDINGS"], "bin", "distance_m")
    assert set(got) - near == inside
    for bin_, metres in got.items():
        assert metres == pytest.approx(oracle[bin_], abs=0.005), bin_
    assert table_rows(result["OUTPUT_SUMMARY"]) == oracle_summary(db.dsn, set(got))
    containments = oracle_containments(db.dsn, set(got), lon, lat, distance)
    assert set(by_key(result["OUTPUT_CONTAINMENTS"], "id", "containment_type")) == set(containments)
    assert table_rows(result["OUTPUT_CONTAINMENT_SUMMARY"]) == containment_summary(containments, db.dsn)
    assert result["BUILDINGS_IN_ZONE"] == len(got)
    return set(got)


def test_point_buffer_in_postgis_equals_the_geography_oracle(sample_db, imis_provider):
    lon, lat = town_point(sample_db)
    result, feedback = run(ALG, _pg(sample_db, f"{lon!r},{lat!r} [EPSG:4326]", 150.5))
    assert result["EXECUTION"] == "PostGIS"
    bins = check(sample_db, result, lon, lat, 150.5)
    assert len(bins) > 10, "the point must lie among buildings"
    zone = next(result["OUTPUT_ZONE"].getFeatures())
    assert zone["target"] == f"the point {lon:.6f}, {lat:.6f}"
    assert "1 points used" not in feedback.text() and "water body" not in feedback.text()


def test_geopackage_and_another_crs_give_the_same_answer(sample_db, sample_gpkg, imis_provider, clean_project):
    lon, lat = town_point(sample_db)
    utm = QgsCoordinateReferenceSystem("EPSG:32645")
    to_utm = QgsCoordinateTransform(QgsCoordinateReferenceSystem("EPSG:4326"), utm, QgsProject.instance())
    point = to_utm.transform(QgsPointXY(lon, lat))
    result, _ = run(ALG, _params(gpkg_layer(sample_gpkg, "buildings", '"deleted_at" IS NULL'),
                                 gpkg_layer(sample_gpkg, "containments"), f"{point.x()!r},{point.y()!r} [EPSG:32645]",
                                 80))
    assert result["EXECUTION"] == "QGIS"
    check(sample_db, result, lon, lat, 80)


def test_imis_compatible_at_zero_metres_is_refused(sample_db, imis_provider):
    lon, lat = town_point(sample_db)
    with pytest.raises(QgsProcessingException, match="buffer of a point at 0 m is empty"):
        run(ALG, _pg(sample_db, f"{lon},{lat} [EPSG:4326]", 0, IMIS_COMPATIBLE=True))


def test_zero_metres_gives_the_building_under_the_point(sample_db, imis_provider):
    lon, lat = town_point(sample_db)
    result, _ = run(ALG, _pg(sample_db, f"{lon!r},{lat!r} [EPSG:4326]", 0))
    got = by_key(result["OUTPUT_BUILDINGS"], "bin", "distance_m")
    under = {row[0] for row in sample_db.query(
        "SELECT bin FROM building_info.buildings WHERE deleted_at IS NULL "
        "AND ST_Intersects(geom, ST_SetSRID(ST_MakePoint(%s, %s), 4326))", (lon, lat))}
    assert set(got) == under and under


def test_workbook_has_the_imis_sheets_and_names_the_point(sample_db, imis_provider, tmp_path):
    lon, lat = town_point(sample_db)
    path = tmp_path / "Point Buffer Summary Information.xlsx"
    result, _ = run(ALG, _pg(sample_db, f"{lon!r},{lat!r} [EPSG:4326]", 60, OUTPUT_XLSX=str(path)))
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["Buildings Sheet", "Buildings List", "Containments by Type", "Containment List",
                               "Parameters"]
    # an empty label (buildings without structure type) is an empty cell
    summary = [[row[0] or ""] + list(row[1:]) for row in book["Buildings Sheet"].iter_rows(min_row=2, values_only=True)]
    assert summary == table_rows(result["OUTPUT_SUMMARY"])
    parameters = {row[0]: row[1] for row in book["Parameters"].iter_rows(min_row=2, values_only=True)}
    assert parameters["Point (longitude, latitude; EPSG:4326)"] == f"{lon:.6f}, {lat:.6f}"
    assert parameters["Analysis"] == "Buildings and containments near a point (imis:pointbuffer)"
    assert "water bod" not in str(parameters["Rules"])


def test_missing_point_is_refused(sample_db, imis_provider):
    with pytest.raises(QgsProcessingException):
        run(ALG, {"BUILDINGS": pg_layer(sample_db, "buildings"), "DISTANCE": 10})
