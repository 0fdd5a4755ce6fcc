"""Saving edits made in the IMIS forms: the rows, derived values and revisions IMIS would write,
all in one transaction, and nothing written (edits kept in the buffer) when a save fails.

Every expected value is computed here in plain SQL or spelled out from EDITING.md, never taken
from the plugin.
"""
import datetime
import threading
import time

import psycopg2
import pytest
from qgis.core import QgsGeometry, QgsVectorLayerUtils

from tests.support.editing import (  # noqa: F401  (fixtures)
    Form,
    add_user,
    edit_db,
    edit_town,
    layer_tools,
    polygon_wkt_near,
    relation_children,
)

BUILDING = "App\\Models\\BuildingInfo\\Building"
OWNER = "App\\Models\\BuildingInfo\\Owner"
CONTAINMENT = "App\\Models\\Fsm\\Containment"


def pick(town, where, params=()):
    return town.one("SELECT b.bin FROM building_info.buildings b WHERE b.deleted_at IS NULL AND "
                    "EXISTS (SELECT 1 FROM building_info.owners o WHERE o.bin = b.bin) AND " + where +
                    " ORDER BY b.bin LIMIT 1", params)


def live_links(town, bin_):
    return town.query("SELECT bc.containment_id FROM building_info.build_contains bc JOIN fsm.containments c ON "
                      "c.id = bc.containment_id WHERE bc.bin = %s AND bc.deleted_at IS NULL AND c.deleted_at IS NULL "
                      "ORDER BY 1", (bin_,))


def septic(town):
    return pick(town, "b.sanitation_system_id = 3 AND b.toilet_status AND (SELECT count(*) FROM "
                      "building_info.build_contains bc WHERE bc.bin = b.bin AND bc.deleted_at IS NULL) = 1")


def open_building(town, bin_, context=None):
    assert town["buildings"].startEditing()
    return Form(town["buildings"], town.feature("buildings", "bin", bin_), context=context)


def commit(town, key="buildings"):
    """QGIS's own "Save Layer Edits" on the layer; returns the session's failure (or None)."""
    session = town.session()
    session.last_failure = None
    town[key].commitChanges(False)
    return session.last_failure


def assert_close_to_now(town, moment):
    now = town.imis_now()
    assert abs((now - moment).total_seconds()) < 120, (now, moment)


# --- saving what the form holds -------------------------------------------------------------------------

def test_building_and_owner_edit_writes_rows_and_revisions(edit_town):
    town = edit_town
    bin_ = septic(town)
    before = town.one("SELECT tax_code, floor_count, user_id FROM building_info.buildings WHERE bin = %s", (bin_,))
    owner_id, owner_name = town.one("SELECT id, owner_name FROM building_info.owners WHERE bin = %s", (bin_,))
    last = town.last_revision_id()
    form = open_building(town, bin_)
    form.set("tax_code", "TX-EDITED")
    form.set("floor_count", str(int(before[1])))  # same value typed again: no revision row (2 == 2.00)
    form.set("owner_name", "Edited Owner")
    assert form.save()
    assert commit(town) is None
    row = town.one("SELECT tax_code, user_id, updated_at FROM building_info.buildings WHERE bin = %s", (bin_,))
    assert row[:2] == ("TX-EDITED", town.user_id)
    assert_close_to_now(town, row[2])
    assert town.one("SELECT owner_name FROM building_info.owners WHERE bin = %s", (bin_,)) == "Edited Owner"
    expected = {
        (BUILDING, bin_, town.user_id, "tax_code", before[0], "TX-EDITED"),
        (OWNER, str(owner_id), town.user_id, "owner_name", owner_name, "Edited Owner"),
    }
    if before[2] != town.user_id:
        expected.add((BUILDING, bin_, town.user_id, "user_id", str(before[2]), str(town.user_id)))
    assert set(town.revisions_since(last)) == expected
    assert len(town.revisions_since(last)) == len(expected)
    # The revisions carry the same second as the row's updated_at, in the IMIS time zone.
    created = town.query("SELECT DISTINCT created_at FROM public.revisions WHERE id > %s", (last,))
    assert created == [(row[2],)]
    assert not town["buildings"].isModified() and not town["owners"].isModified()


def fill_new_building(form, town, house_number):
    ward = town.one("SELECT min(ward) FROM layer_info.wards WHERE deleted_at IS NULL")
    road = town.one("SELECT min(code) FROM utility_info.roads WHERE deleted_at IS NULL")
    values = {
        "owner_name": "New Owner", "owner_gender": "Female", "owner_contact": "9801234567",
        "ward": str(ward), "road_code": road, "house_number": house_number, "tax_code": "TX-NEW",
        "structure_type_id": town.one("SELECT type FROM building_info.structure_types ORDER BY id LIMIT 1"),
        "construction_year": datetime.date(2010, 5, 1), "floor_count": "2",
        "functional_use_id": town.one("SELECT name FROM building_info.functional_uses WHERE id = 1"),
        "household_served": "1", "population_served": "5", "low_income_hh": "No",
        "water_source_id": town.one("SELECT source FROM building_info.water_sources WHERE source NOT ILIKE "
                                    "'%%municipal%%' ORDER BY id LIMIT 1"),
        "toilet_status": "Yes",
        "sanitation_system_id": town.one("SELECT sanitation_system FROM building_info.sanitation_systems WHERE id = 5"),
        "toilet_count": "1",
    }
    for name, value in values.items():
        form.set(name, value)


def test_new_building_gets_the_next_bin_its_area_and_creation_rows(edit_town):
    town = edit_town
    layer = town["buildings"]
    assert layer.startEditing()
    wkt = polygon_wkt_near(town, septic(town))
    feature = QgsVectorLayerUtils.createFeature(layer, QgsGeometry.fromWkt(wkt), {})
    form = Form(layer, feature, adding=True)
    fill_new_building(form, town, "NEW-HOUSE-1")
    assert form.save()
    last = town.last_revision_id()
    # Next BIN over ALL rows, soft-deleted ones included (oracle in SQL).
    expected_bin = "B%06d" % (town.one("SELECT max(substring(bin from 2)::int) FROM building_info.buildings "
                                       "WHERE bin ~ '^B[0-9]{6}$'") + 1)
    assert town.one("SELECT count(*) FROM building_info.buildings WHERE deleted_at IS NOT NULL") > 0
    assert commit(town) is None
    row = town.one("SELECT bin, estimated_area, round(ST_Area(geom::geography)::numeric, 2), ST_GeometryType(geom), "
                   "verification_status, user_id, created_at, updated_at, house_number FROM building_info.buildings "
                   "WHERE house_number = 'NEW-HOUSE-1'")
    assert row[0] == expected_bin
    assert row[1] == row[2] and row[1] > 0
    assert row[3] == "ST_MultiPolygon" and row[4] is True and row[5] == town.user_id
    assert row[6] == row[7]
    assert_close_to_now(town, row[6])
    owner = town.one("SELECT id, owner_name, owner_gender, owner_contact, created_at FROM building_info.owners "
                     "WHERE bin = %s", (expected_bin,))
    assert owner[1:4] == ("New Owner", "Female", 9801234567) and owner[4] == row[6]
    stamp = row[6].strftime("%Y-%m-%d %H:%M:%S")
    assert town.revisions_since(last) == [
        (BUILDING, expected_bin, town.user_id, "created_at", None, stamp),
        (OWNER, str(owner[0]), town.user_id, "created_at", None, stamp),
    ]
    assert town.session().last_result.keys == {feature["bin"]: expected_bin}


def test_add_containment_from_the_building_form(edit_town):
    town = edit_town
    bin_ = septic(town)
    type_name = town.one("SELECT type FROM fsm.containment_types WHERE sanitation_system_id = 3 AND id NOT IN (1, 2, 13, 14) "
                         "ORDER BY id LIMIT 1")

    def fill(form):
        form.set("type_id", type_name)
        form.set("tank_length", "2")
        form.set("tank_width", "1.5")
        form.set("depth", "1.25")
        return form.save()

    from qgis.gui import QgsAttributeEditorContext

    context = QgsAttributeEditorContext()
    tools = layer_tools(fill)  # kept referenced: the context does not own it
    context.setVectorLayerTools(tools)
    form = open_building(town, bin_, context)
    form.tab("Containment Information")
    editor = form.relation_editor()
    before = len(relation_children(editor))
    editor.addFeature()
    assert len(town["build_contains"].editBuffer().addedFeatures()) == 1
    assert town["buildings"].isModified()  # the building's Save button covers its new containment
    expected_id = "C%06d" % (town.one("SELECT max(substring(id from 2)::int) FROM fsm.containments "
                                      "WHERE id ~ '^C[0-9]{6}$'") + 1)
    last = town.last_revision_id()
    assert form.save()
    assert commit(town) is None
    row = town.one("SELECT c.size, c.tank_length, c.depth, c.pit_diameter, c.emptied_status, c.no_of_times_emptied, "
                   "c.user_id, ST_Equals(c.geom, (SELECT ST_Centroid(geom) FROM building_info.buildings WHERE bin = %s)), "
                   "c.created_at FROM fsm.containments c WHERE c.id = %s", (bin_, expected_id))
    assert float(row[0]) == 3.75 and float(row[1]) == 2 and float(row[2]) == 1.25 and row[3] is None
    assert row[4:7] == (False, 0, town.user_id) and row[7] is True
    assert (expected_id,) in live_links(town, bin_) and len(live_links(town, bin_)) == before + 1
    stamp = row[8].strftime("%Y-%m-%d %H:%M:%S")
    assert town.revisions_since(last) == [(CONTAINMENT, expected_id, town.user_id, "created_at", None, stamp)]


def test_footprint_change_recomputes_the_geodesic_area(edit_town):
    town = edit_town
    bin_ = septic(town)
    layer = town["buildings"]
    assert layer.startEditing()
    feature = town.feature("buildings", "bin", bin_)
    old_hex, old_area = town.one("SELECT geom::text, estimated_area::text FROM building_info.buildings WHERE bin = %s",
                                 (bin_,))
    bigger = feature.geometry().buffer(0.00002, 1).convertToType(2, True)  # still one polygon, a little larger
    assert layer.changeGeometry(feature.id(), bigger)
    last = town.last_revision_id()
    assert commit(town) is None
    new_hex, new_area, oracle = town.one(
        "SELECT geom::text, estimated_area::text, round(ST_Area(geom::geography)::numeric, 2)::text "
        "FROM building_info.buildings WHERE bin = %s", (bin_,))
    assert new_area == oracle and float(new_area) > float(old_area)
    rows = {row[3]: row for row in town.revisions_since(last)}
    assert rows["geom"][4:] == (old_hex, new_hex)
    assert rows["estimated_area"][4:] == (old_area, new_area)


# --- failed saves: nothing written, edits kept -------------------------------------------------------------

def test_duplicate_house_number_fails_whole_save_and_keeps_the_edits(edit_town):
    town = edit_town
    bin_ = septic(town)
    taken_by, taken = town.one("SELECT bin, house_number FROM building_info.buildings WHERE deleted_at IS NOT NULL "
                               "AND house_number IS NOT NULL ORDER BY bin LIMIT 1")
    form = open_building(town, bin_)
    form.set("tax_code", "TX-SHOULD-NOT-STAY")
    form.set("owner_name", "Owner Should Not Stay")
    form.set("house_number", taken)  # used by a soft-deleted building: the unique constraint still holds
    assert form.save()
    snapshot = town.snapshot()
    failure = commit(town)
    assert failure is not None
    problem = failure.problems[0]
    assert problem.field == "house_number" and bin_ in problem.what and taken_by in problem.message
    assert "House Number" in problem.text()
    assert town.snapshot() == snapshot  # nothing of the save reached the database
    layer = town["buildings"]
    assert layer.isEditable() and layer.isModified()
    changed = layer.editBuffer().changedAttributeValues()
    fid = town.feature("buildings", "bin", bin_).id()
    assert changed[fid][layer.fields().indexOf("house_number")] == taken
    assert changed[fid][layer.fields().indexOf("tax_code")] == "TX-SHOULD-NOT-STAY"
    assert town["owners"].isModified()
    # Fix the field and save again: now everything is written.
    layer.changeAttributeValue(fid, layer.fields().indexOf("house_number"), "UNIQUE-HOUSE-1")
    assert commit(town) is None
    assert town.one("SELECT tax_code, house_number FROM building_info.buildings WHERE bin = %s", (bin_,)) == \
        ("TX-SHOULD-NOT-STAY", "UNIQUE-HOUSE-1")
    assert town.one("SELECT owner_name FROM building_info.owners WHERE bin = %s", (bin_,)) == "Owner Should Not Stay"


def test_dropped_connection_while_saving_writes_nothing_and_keeps_the_edits(edit_town):
    town = edit_town
    bin_ = septic(town)
    layer = town["buildings"]
    assert layer.startEditing()
    fid = town.feature("buildings", "bin", bin_).id()
    layer.changeAttributeValue(fid, layer.fields().indexOf("tax_code"), "TX-LOST-CONNECTION")
    snapshot = town.snapshot()
    # Another session holds the building's row, so the save waits there; meanwhile its connection drops.
    holder = town.db.connect()
    holder.cursor().execute("SELECT 1 FROM building_info.buildings WHERE bin = %s FOR UPDATE", (bin_,))

    def drop_the_waiting_save():
        admin = town.db.connect()
        admin.autocommit = True
        try:
            for _ in range(200):
                with admin.cursor() as cur:
                    cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
                                "AND application_name = 'QGIS IMIS plugin (editing)' AND wait_event_type = 'Lock'")
                    if cur.fetchall():
                        return
                time.sleep(0.05)
        finally:
            admin.close()

    killer = threading.Thread(target=drop_the_waiting_save)
    killer.start()
    failure = commit(town)
    killer.join()
    holder.rollback()
    holder.close()
    assert failure is not None
    assert "connection" in failure.problems[0].message.lower() and "nothing was saved" in failure.problems[0].message
    assert town.snapshot() == snapshot
    assert layer.editBuffer().changedAttributeValues()[fid][layer.fields().indexOf("tax_code")] == "TX-LOST-CONNECTION"
    assert commit(town) is None  # the connection is back: the same edits save
    assert town.one("SELECT tax_code FROM building_info.buildings WHERE bin = %s", (bin_,)) == "TX-LOST-CONNECTION"


@pytest.fixture
def editor_role(edit_town):
    """A login role with every table right but not allowed to refresh IMIS's chart view (DATABASE.md §14.3)."""
    from psycopg2 import sql

    role = "imis_qgis_editor"
    admin = edit_town.db.connect()
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
        if not cur.fetchone():
            cur.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
        for schema in ("building_info", "fsm", "layer_info", "utility_info", "public", "auth"):
            cur.execute(sql.SQL("GRANT USAGE ON SCHEMA {0} TO {1}; GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA "
                                "{0} TO {1}; GRANT USAGE ON ALL SEQUENCES IN SCHEMA {0} TO {1}")
                        .format(sql.Identifier(schema), sql.Identifier(role)))
        # The chart view exists and belongs to postgres, as after the web app's first containment write.
        cur.execute("UPDATE fsm.containments SET updated_at = updated_at WHERE id = (SELECT min(id) FROM fsm.containments)")
    admin.close()
    yield role
    admin = edit_town.db.connect()
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(sql.SQL("REASSIGN OWNED BY {0} TO postgres; DROP OWNED BY {0}").format(sql.Identifier(role)))
    admin.close()


def test_containment_save_refused_up_front_for_a_role_that_cannot_refresh_the_view(edit_town, editor_role, clean_project):
    from imis.imis_plugin.layers import load_imis_layers
    from tests.conftest import save_qgis_connection

    uri = edit_town.db.uri.replace("user=postgres", f"user={editor_role}")
    layers, problems = load_imis_layers(connection_name=save_qgis_connection("IMIS as editor role", uri),
                                        project=clean_project)
    assert problems == []
    from imis.forms.setup import session_for

    session = session_for(layers["buildings"])
    assert session.report.role == editor_role and session.report.view_problems
    containments = layers["containments"]
    assert containments.startEditing()
    cid = edit_town.one("SELECT min(id) FROM fsm.containments WHERE deleted_at IS NULL")
    feature = next(f for f in containments.getFeatures() if f["id"] == cid)
    containments.changeAttributeValue(feature.id(), containments.fields().indexOf("location"), "Outside the house")
    snapshot = edit_town.snapshot()
    containments.commitChanges(False)
    failure = session.last_failure
    assert failure is not None and "builtupperward_summaryforchart" in failure.text()
    assert edit_town.snapshot() == snapshot
    assert containments.isModified()
    # Without the up-front check, the database itself refuses in IMIS's trigger: same outcome, clear message.
    session.report = None
    containments.commitChanges(False)
    failure = session.last_failure
    assert "trigger" in failure.problems[0].message and cid in failure.problems[0].what
    assert edit_town.snapshot() == snapshot
    assert containments.isModified()
    containments.rollBack()


# --- ids under concurrency -----------------------------------------------------------------------------------

def test_two_editors_saving_at_once_never_get_the_same_bin(edit_town):
    from imis.imis_plugin.editing import writer
    from imis.imis_plugin.editing.changes import ChangeSet, RowEdit

    town = edit_town
    other_user = add_user(town.db, "Second Editor")
    ward = town.one("SELECT min(ward) FROM layer_info.wards WHERE deleted_at IS NULL")
    road = town.one("SELECT min(code) FROM utility_info.roads WHERE deleted_at IS NULL")
    source = town.one("SELECT min(id) FROM building_info.water_sources WHERE source NOT ILIKE '%%municipal%%'")
    wkb = bytes(QgsGeometry.fromWkt(polygon_wkt_near(town, septic(town))).asWkb())
    rounds, results, errors = 5, [], []

    def changes(tag):
        values = dict(ward=ward, road_code=road, tax_code=tag, structure_type_id=1,
                      construction_year=datetime.date(2001, 1, 1), floor_count=1, functional_use_id=1,
                      household_served=1, population_served=2, low_income_hh=False, water_source_id=source,
                      toilet_status=True, toilet_count=1, sanitation_system_id=5)
        return ChangeSet([
            RowEdit("buildings", "insert", "new-" + tag, values=values, geometry=wkb),
            RowEdit("owners", "insert", None, values={"bin": "new-" + tag, "owner_name": tag, "owner_gender": "Male",
                                                       "owner_contact": 1}),
        ])

    def editor(user, tag, barrier):
        conn = psycopg2.connect(town.db.dsn)
        try:
            barrier.wait()
            result = writer.save(conn, changes(tag), user, "Asia/Kathmandu")
            results.append(result.keys["new-" + tag])
        except Exception as error:  # noqa: BLE001 - collected and asserted below
            errors.append(error)
        finally:
            conn.close()

    first = town.one("SELECT max(substring(bin from 2)::int) FROM building_info.buildings WHERE bin ~ '^B[0-9]{6}$'")
    for n in range(rounds):
        barrier = threading.Barrier(2)
        threads = [threading.Thread(target=editor, args=(user, f"r{n}e{i}", barrier))
                   for i, user in enumerate((town.user_id, other_user))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []
    assert sorted(results) == ["B%06d" % (first + i) for i in range(1, 2 * rounds + 1)]
    assert town.one("SELECT count(DISTINCT bin) FROM building_info.owners WHERE owner_name ~ '^r[0-9]e[01]$'") == 2 * rounds


# --- the timestamps' time zone ------------------------------------------------------------------------------

def test_timestamps_are_local_time_of_the_configured_zone(edit_town):
    from imis.imis_plugin import settings

    town = edit_town
    settings.set_timezone("Asia/Dhaka")
    try:
        bin_ = septic(town)
        layer = town["buildings"]
        assert layer.startEditing()
        fid = town.feature("buildings", "bin", bin_).id()
        layer.changeAttributeValue(fid, layer.fields().indexOf("tax_code"), "TX-DHAKA")
        assert commit(town) is None
        stamp, dhaka = town.one("SELECT updated_at, date_trunc('second', now() AT TIME ZONE 'Asia/Dhaka') "
                                "FROM building_info.buildings WHERE bin = %s", (bin_,))
        assert abs((dhaka - stamp).total_seconds()) < 120
    finally:
        settings.set_timezone("Asia/Kathmandu")
