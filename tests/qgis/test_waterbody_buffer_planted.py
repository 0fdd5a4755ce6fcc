"""imis:waterbodybuffer on features planted in a writable copy of the sample town.

A square test pond lies east of the town, away from everything else. Buildings and
containments are placed at exact geodesic distances from its east edge with ST_Project.
"""
import datetime

import openpyxl
import pytest
from qgis.core import QgsProcessingException

from tests.support.analysis import by_key, execute, pg_layer, query, run, table_rows

ALG = "imis:waterbodybuffer"
D = 12.5
EDGE = (89.601, 22.8605)  # midpoint of the pond's east edge


def _at(distance, north=0.0):
    """SQL for the point `distance` m east of the pond's east edge (optionally shifted north)."""
    return ("ST_Project(ST_SetSRID(ST_MakePoint(%s, %s), 4326)::geography, %s, radians(90))::geometry",
            [EDGE[0], EDGE[1] + north, distance])


def _building(dsn, bin_, distance=None, geom_sql=None, params=(), deleted=False, structure=1, sanitation=3):
    if geom_sql is None:
        point, point_params = _at(distance)
        # a 8 x 8 m square whose west edge passes through the point
        geom_sql = (f"ST_Multi(ST_MakeEnvelope(ST_X({point}), ST_Y({point}) - 0.00004, ST_X({point}) + 0.00008, "
                    f"ST_Y({point}) + 0.00004, 4326))")
        params = point_params * 4
    execute(dsn, f"INSERT INTO building_info.buildings (bin, structure_type_id, sanitation_system_id, geom, deleted_at) "
                 f"VALUES (%s, %s, %s, {geom_sql}, %s)",
            [bin_, structure, sanitation, *params, datetime.datetime(2024, 1, 1) if deleted else None])


def _containment(dsn, cid, distance, type_id=3, deleted=False):
    point, params = _at(distance, north=0.0002)
    execute(dsn, f"INSERT INTO fsm.containments (id, type_id, geom, deleted_at, septic_criteria) "
                 f"VALUES (%s, %s, {point}, %s, true)",
            [cid, type_id, *params, datetime.datetime(2024, 1, 1) if deleted else None])


def _link(dsn, bin_, cid, deleted=False):
    execute(dsn, "INSERT INTO building_info.build_contains (bin, containment_id, deleted_at) VALUES (%s, %s, %s)",
            [bin_, cid, datetime.datetime(2024, 1, 1) if deleted else None])


@pytest.fixture
def planted(scratch_db):
    dsn = scratch_db.dsn
    execute(dsn, "INSERT INTO layer_info.waterbodys (name, type, geom) VALUES ('Test pond', 'Testpond', "
                 "ST_Multi(ST_MakeEnvelope(89.600, 22.860, 89.601, 22.861, 4326)))")
    # A soft-deleted pond of the same type, with a building 5 m from it and nothing else near.
    execute(dsn, "INSERT INTO layer_info.waterbodys (name, type, geom, deleted_at) VALUES ('Filled', 'Testpond', "
                 "ST_Multi(ST_MakeEnvelope(89.600, 22.870, 89.601, 22.871, 4326)), now())")
    _building(dsn, "T000009", geom_sql="ST_Multi(ST_MakeEnvelope(89.60105, 22.8705, 89.6011, 22.8706, 4326))")
    _building(dsn, "T000001", D - 0.05)            # just inside
    _building(dsn, "T000002", D + 0.05)            # just outside
    _building(dsn, "T000003", geom_sql="ST_Multi(ST_MakeEnvelope(89.6004, 22.8604, 89.6005, 22.8605, 4326))",
              structure=None, sanitation=12)       # inside the pond: 0 m, blank structure type, Shared Toilet
    _building(dsn, "T000004", D / 2, deleted=True)  # soft-deleted, well inside
    _building(dsn, "T000005", 2.0, sanitation=11)   # inside, Shared Septic Tank: listed, not counted
    _containment(dsn, "T-C1", 300)                 # linked to T000001 by a deleted link only: own point is far
    _link(dsn, "T000001", "T-C1", deleted=True)
    _containment(dsn, "T-C2", D / 2)               # unlinked, own point inside: counted
    _containment(dsn, "T-C3", D + 1)               # unlinked, own point outside
    _containment(dsn, "T-C4", 1.0, deleted=True)   # deleted containment with a live link: never
    _link(dsn, "T000001", "T-C4")
    _containment(dsn, "T-C5", 300, type_id=9)      # far away but linked to T000001: counted through it
    _link(dsn, "T000001", "T-C5")
    _containment(dsn, "T-C6", 300)                 # shared by T000001 and T000003: counted once
    _link(dsn, "T000001", "T-C6")
    _link(dsn, "T000003", "T-C6")
    _link(dsn, "T000003", "T-C6")                  # the same pair twice (IMIS does that)
    _containment(dsn, "T-C7", D / 2, type_id=10)   # live link to the deleted building only: own point counts
    _link(dsn, "T000004", "T-C7")
    _containment(dsn, "T-C8", D / 3)               # linked only to T000002 (outside): not counted
    _link(dsn, "T000002", "T-C8")
    return scratch_db


def _params(db, **extra):
    return {"WATERBODIES": pg_layer(db, "waterbodys"), "WATERBODY_TYPE": "testpond",
            "BUILDINGS": pg_layer(db, "buildings"), "CONTAINMENTS": pg_layer(db, "containments"),
            "DISTANCE": D, **extra}


def test_planted_buildings_and_containments(planted, imis_provider):
    result, feedback = run(ALG, _params(planted))
    distances = by_key(result["OUTPUT_BUILDINGS"], "bin", "distance_m")
    assert sorted(distances) == ["T000001", "T000003", "T000005"]
    assert distances["T000001"] == pytest.approx(D - 0.05, abs=0.002)
    assert distances["T000003"] == 0
    assert result["WATERBODIES_USED"] == 1
    containments = {f["id"]: (f["bin"], f["chosen_by"], f["buildings_served"])
                    for f in result["OUTPUT_CONTAINMENTS"].getFeatures()}
    assert containments == {
        "T-C2": (None, "own point", 0),
        "T-C5": ("T000001", "linked building", 1),
        "T-C6": ("T000001, T000003", "linked building", 2),
        "T-C7": (None, "own point", 0),
    }
    labels = dict(query(planted.dsn, "SELECT id, type FROM building_info.structure_types"))
    summary = table_rows(result["OUTPUT_SUMMARY"])
    # T000001 (type 1, Septic Tank) and T000003 (no type, Shared Toilet: Buildings only); T000005 left out.
    assert summary == [[labels[1], 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0], ["", 1] + [0] * 10, ["Total", 2, 0, 0, 1] + [0] * 7]
    assert result["BUILDINGS_LEFT_OUT"] == 1
    assert "Shared Septic Tank" in feedback.text()
    ctypes = dict(query(planted.dsn, "SELECT id, type FROM fsm.containment_types"))
    assert table_rows(result["OUTPUT_CONTAINMENT_SUMMARY"]) == [[ctypes[3], 2], [ctypes[9], 1], [ctypes[10], 1],
                                                                ["Total", 4]]


def test_planted_imis_compatible_misses_nothing_on_straight_edges(planted, imis_provider):
    result, _ = run(ALG, _params(planted, IMIS_COMPATIBLE=True))
    assert sorted(by_key(result["OUTPUT_BUILDINGS"], "bin", "distance_m")) == ["T000001", "T000003", "T000005"]


def test_renamed_structure_types_show_up_by_name(planted, imis_provider):
    for type_id, label in ((1, "Pucca"), (2, "Semi-pucca"), (3, "Katcha"), (4, "Under Construction")):
        execute(planted.dsn, "UPDATE building_info.structure_types SET type = %s WHERE id = %s", (label, type_id))
    execute(planted.dsn, "UPDATE building_info.buildings SET structure_type_id = 3 WHERE bin = 'T000003'")
    result, _ = run(ALG, _params(planted))
    assert [row[0] for row in table_rows(result["OUTPUT_SUMMARY"])] == ["Pucca", "Katcha", "Total"]
    assert by_key(result["OUTPUT_BUILDINGS"], "bin", "structure_type")["T000001"] == "Pucca"


def test_workbook_cells(planted, imis_provider, tmp_path):
    execute(planted.dsn, "INSERT INTO building_info.owners (bin, owner_name, owner_gender, owner_contact) "
                         "VALUES ('T000001', 'Rahima Begum', 'Female', 1711000000)")
    execute(planted.dsn, "UPDATE building_info.buildings SET toilet_status = false, floor_count = 2.00, "
                         "house_number = 'R1 - 0001' WHERE bin = 'T000001'")
    path = tmp_path / "Summary Information buildings close to waterbodys.xlsx"
    result, _ = run(ALG, _params(planted, OUTPUT_XLSX=str(path)))
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["Buildings Sheet", "Buildings List", "Containments by Type", "Containment List",
                               "Parameters"]
    sheet = [[cell.value for cell in row] for row in book["Buildings Sheet"].iter_rows()]
    assert sheet[0] == ["Structure Type", "Buildings", "Sewer Network", "Drain Network", "Septic Tank",
                        "Pit / Holding Tank", "Onsite Treatment", "Composting Toilet", "Water Body", "Open Ground",
                        "Community Toilet", "Open Defecation"]
    assert [[None if v is None else v for v in row] for row in sheet[1:]] == \
        [[v if v != "" else None for v in row] for row in table_rows(result["OUTPUT_SUMMARY"])]
    assert book["Buildings Sheet"]["A1"].font.b
    listing = [[cell.value for cell in row] for row in book["Buildings List"].iter_rows()]
    header = listing[0]
    assert header[:5] == ["BIN", "House Number", "House Locality/Address", "Containment ID", "Tax Code/ Holding ID"]
    rows = {(row[0], row[3]) for row in listing[1:]}
    assert rows == {("T000001", "T-C5"), ("T000001", "T-C6"), ("T000003", "T-C6"), ("T000005", None)}
    first = next(row for row in listing[1:] if row[0] == "T000001")
    assert first[header.index("Presence of Toilet")] == "No"
    assert first[header.index("Number of Floors")] == 2
    assert first[header.index("Owner Name")] == "Rahima Begum"
    assert first[header.index("Owner Contact Number")] == 1711000000
    assert first[header.index("Well in Premises")] is None
    clist = [[cell.value for cell in row] for row in book["Containment List"].iter_rows()]
    assert [(row[0], row[1]) for row in clist[1:]] == [("T-C2", None), ("T-C5", "T000001"), ("T-C6", "T000001"),
                                                      ("T-C6", "T000003"), ("T-C7", None)]
    assert clist[1][3] == "Yes" and clist[3][7] == 2  # compliance Yes/No; Building Served filled
    by_type = [[cell.value for cell in row] for row in book["Containments by Type"].iter_rows()]
    assert by_type[0] == ["Containment Type", "Containments"] and by_type[-1] == ["Total", 4]
    params = {row[0].value: row[1].value for row in book["Parameters"].iter_rows(min_row=2)}
    assert params["Distance (m)"] == D and params["Ran in"] == "PostGIS"
    assert params["Water body types"] == "testpond" and params["Water bodies used"] == 1
    assert "exact geodesic" in params["Method"] and params["Plugin version"]
    assert "imis_scratch" in params["Data source"] and "password" not in str(params).lower()


def test_null_and_invalid_footprints_are_reported(planted, imis_provider):
    execute(planted.dsn, "UPDATE building_info.buildings SET geom = NULL WHERE bin = 'T000002'")
    point, params = _at(3.0)
    # a bow-tie: self-intersecting footprint in the zone
    execute(planted.dsn, f"INSERT INTO building_info.buildings (bin, structure_type_id, sanitation_system_id, geom) "
                         f"SELECT 'T000006', 1, 3, ST_Multi(ST_MakePolygon(ST_MakeLine(ARRAY[p, "
                         f"ST_Translate(p, 0.00005, 0.00005), ST_Translate(p, 0.00005, 0), ST_Translate(p, 0, 0.00005), p])))"
                         f" FROM (SELECT {point} AS p) x", params)
    result, feedback = run(ALG, _params(planted))
    assert "T000006" in by_key(result["OUTPUT_BUILDINGS"], "bin", "distance_m")
    text = feedback.text()
    assert "no footprint" in text and "T000002" in text
    assert "invalid footprint" in text and "T000006" in text


def test_soft_deleted_water_body_is_ignored_even_when_chosen_by_type(planted, imis_provider):
    result, _ = run(ALG, _params(planted))
    assert "T000009" not in by_key(result["OUTPUT_BUILDINGS"], "bin", "distance_m")


def test_unreachable_database_gives_a_message_and_writes_nothing(planted, imis_provider, pg_server):
    params = _params(planted)
    admin = pg_server.dsn()
    import psycopg2

    conn = psycopg2.connect(admin)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'imis_scratch'")
            cur.execute("ALTER DATABASE imis_scratch RENAME TO imis_scratch_away")
        with pytest.raises(QgsProcessingException, match="Cannot connect to the IMIS database 'imis_scratch'"):
            run(ALG, params)
    finally:
        with conn.cursor() as cur:
            cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'imis_scratch_away'")
            cur.execute("ALTER DATABASE imis_scratch_away RENAME TO imis_scratch")
        conn.close()


def test_imis_mode_refuses_zero_metres_on_lines(planted, imis_provider):
    from qgis.core import QgsFeature, QgsGeometry, QgsVectorLayer

    lines = QgsVectorLayer("MultiLineString?crs=EPSG:4326&field=id:integer&field=type:string", "streams", "memory")
    feature = QgsFeature(lines.fields())
    feature.setAttributes([1, "Stream"])
    feature.setGeometry(QgsGeometry.fromWkt("MULTILINESTRING((89.600 22.860, 89.601 22.861))"))
    lines.dataProvider().addFeatures([feature])
    params = _params(planted, IMIS_COMPATIBLE=True, DISTANCE=0)
    params["WATERBODIES"], params["WATERBODY_TYPE"] = lines, ""
    with pytest.raises(QgsProcessingException, match="buffer of a line at 0 m is empty"):
        run(ALG, params)
    params["IMIS_COMPATIBLE"] = False
    result, _ = run(ALG, params)
    assert result["EXECUTION"] == "QGIS"  # a memory layer: the QGIS path, lookups from the database of the buildings


def test_optional_outputs_can_be_skipped(planted, imis_provider):
    result, _ = run(ALG, _params(planted, OUTPUT_ZONE=None, OUTPUT_CONTAINMENTS=None,
                                 OUTPUT_CONTAINMENT_SUMMARY=None))
    assert "OUTPUT_ZONE" not in result and "OUTPUT_CONTAINMENTS" not in result
    assert result["CONTAINMENTS_IN_ZONE"] == 4 and result["OUTPUT_BUILDINGS"].featureCount() == 3


def test_without_openpyxl_the_other_outputs_are_written(planted, imis_provider, tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "openpyxl", None)  # as on a QGIS without the package
    path = tmp_path / "book.xlsx"
    result, feedback = run(ALG, _params(planted, OUTPUT_XLSX=str(path)))
    assert not path.exists() and "OUTPUT_XLSX" not in result
    assert "openpyxl" in feedback.text() and "other outputs were written" in feedback.text()
    assert result["OUTPUT_BUILDINGS"].featureCount() == 3
