"""IMIS's consistency, propagation and delete rules when saving from QGIS (EDITING.md §5-§8).

Edits are made as QGIS makes them (edit buffers of the PostGIS layers, the relation editor of
the building form) and saved with QGIS's own commit; the database is then checked in SQL.
"""
import pytest

from tests.support.editing import Form, edit_db, edit_town, relation_children  # noqa: F401  (fixtures)

CONTAINMENT = "App\\Models\\Fsm\\Containment"
BUILDING = "App\\Models\\BuildingInfo\\Building"


def pick(town, where, params=()):
    return town.one("SELECT b.bin FROM building_info.buildings b WHERE b.deleted_at IS NULL AND "
                    "EXISTS (SELECT 1 FROM building_info.owners o WHERE o.bin = b.bin) AND " + where +
                    " ORDER BY b.bin LIMIT 1", params)


ONE_LINK = ("(SELECT count(*) FROM building_info.build_contains bc JOIN fsm.containments c ON c.id = bc.containment_id "
            "WHERE bc.bin = b.bin AND bc.deleted_at IS NULL AND c.deleted_at IS NULL) = 1")
NO_LINK = ("NOT EXISTS (SELECT 1 FROM building_info.build_contains bc WHERE bc.bin = b.bin AND bc.deleted_at IS NULL)")
NO_APPLICATION = ("NOT EXISTS (SELECT 1 FROM building_info.build_contains bc JOIN fsm.applications a ON "
                  "a.containment_id = bc.containment_id WHERE bc.bin = b.bin AND a.deleted_at IS NULL)")


def containment_of(town, bin_):
    return town.one("SELECT bc.containment_id FROM building_info.build_contains bc WHERE bc.bin = %s "
                    "AND bc.deleted_at IS NULL ORDER BY 1 LIMIT 1", (bin_,))


def commit(town, key="buildings"):
    session = town.session()
    session.last_failure = None
    town[key].commitChanges(False)
    return session.last_failure


def set_attributes(town, key, column, value, values):
    layer = town[key]
    assert layer.isEditable() or layer.startEditing()
    feature = town.feature(key, column, value)
    for name, new in values.items():
        assert layer.changeAttributeValue(feature.id(), layer.fields().indexOf(name), new)
    return feature


def delete(town, key, column, value):
    layer = town[key]
    assert layer.isEditable() or layer.startEditing()
    feature = town.feature(key, column, value)
    assert layer.deleteFeature(feature.id())
    return feature


# --- deletes ------------------------------------------------------------------------------------------

def test_deleting_a_building_with_a_live_containment_is_refused(edit_town):
    town = edit_town
    bin_ = pick(town, "b.sanitation_system_id = 3 AND " + ONE_LINK)
    delete(town, "buildings", "bin", bin_)
    snapshot = town.snapshot()
    failure = commit(town)
    assert failure is not None
    assert "Failed to delete building, it is associated with containment data" in failure.problems[0].message
    assert town.snapshot() == snapshot
    assert town["buildings"].editBuffer().deletedFeatureIds()  # the delete waits in the buffer


def test_deleting_a_building_is_a_soft_delete_with_its_toilet_links(edit_town):
    town = edit_town
    bin_ = pick(town, "b.sanitation_system_id = 9 AND " + NO_LINK +
                " AND EXISTS (SELECT 1 FROM fsm.build_toilets t WHERE t.bin = b.bin AND t.deleted_at IS NULL)")
    last = town.last_revision_id()
    delete(town, "buildings", "bin", bin_)
    assert commit(town) is None
    deleted_at, updated_at = town.one("SELECT deleted_at, updated_at FROM building_info.buildings WHERE bin = %s", (bin_,))
    assert deleted_at is not None and updated_at == deleted_at
    assert town.one("SELECT count(*) FROM fsm.build_toilets WHERE bin = %s AND deleted_at IS NULL", (bin_,)) == 0
    assert town.one("SELECT count(*) FROM building_info.owners WHERE bin = %s AND deleted_at IS NULL", (bin_,)) == 1
    assert town.revisions_since(last) == [
        (BUILDING, bin_, town.user_id, "deleted_at", None, deleted_at.strftime("%Y-%m-%d %H:%M:%S"))]


def test_deleting_a_linked_containment_is_refused(edit_town):
    town = edit_town
    bin_ = pick(town, "b.sanitation_system_id = 3 AND " + ONE_LINK)
    delete(town, "containments", "id", containment_of(town, bin_))
    snapshot = town.snapshot()
    failure = commit(town, "containments")
    assert "Failed to Delete Containment" in failure.problems[0].message and bin_ in failure.problems[0].message
    assert town.snapshot() == snapshot


def test_a_containment_that_never_had_a_link_can_be_deleted(edit_town):
    """Defect E14: IMIS fails here; the plugin soft-deletes it."""
    town = edit_town
    cid = town.one("SELECT min(id) FROM fsm.containments WHERE deleted_at IS NULL")
    town.execute("UPDATE fsm.applications SET deleted_at = now() WHERE containment_id = %s", (cid,))
    town.execute("DELETE FROM building_info.build_contains WHERE containment_id = %s", (cid,))
    last = town.last_revision_id()
    delete(town, "containments", "id", cid)
    assert commit(town, "containments") is None
    deleted_at = town.one("SELECT deleted_at FROM fsm.containments WHERE id = %s", (cid,))
    assert deleted_at is not None
    assert town.revisions_since(last) == [
        (CONTAINMENT, cid, town.user_id, "deleted_at", None, deleted_at.strftime("%Y-%m-%d %H:%M:%S"))]


def test_unlink_in_the_building_form_then_delete_the_containment_in_the_same_save(edit_town):
    town = edit_town
    bin_ = pick(town, "b.sanitation_system_id = 3 AND " + ONE_LINK + " AND " + NO_APPLICATION)
    cid = containment_of(town, bin_)
    assert town["buildings"].startEditing()
    form = Form(town["buildings"], town.feature("buildings", "bin", bin_))
    form.tab("Containment Information")
    editor = form.relation_editor()
    (child,) = relation_children(editor)
    editor.unlinkFeatures([child.id()])
    delete(town, "containments", "id", cid)
    # The building has no containment left: IMIS's rules need another sanitation system.
    other = town.one("SELECT sanitation_system FROM building_info.sanitation_systems WHERE id = 5")
    form.set("sanitation_system_id", other)
    assert form.save()
    assert commit(town) is None
    link_deleted, containment_deleted = town.one(
        "SELECT bc.deleted_at IS NOT NULL, c.deleted_at IS NOT NULL FROM building_info.build_contains bc "
        "JOIN fsm.containments c ON c.id = bc.containment_id WHERE bc.bin = %s AND bc.containment_id = %s", (bin_, cid))
    assert link_deleted and containment_deleted
    assert town.one("SELECT sanitation_system_id FROM building_info.buildings WHERE bin = %s", (bin_,)) == 5


def test_unlinking_the_last_containment_needs_a_new_sanitation_system(edit_town):
    town = edit_town
    bin_ = pick(town, "b.sanitation_system_id = 3 AND " + ONE_LINK + " AND " + NO_APPLICATION)
    cid = containment_of(town, bin_)
    assert town["buildings"].startEditing()
    form = Form(town["buildings"], town.feature("buildings", "bin", bin_))
    form.tab("Containment Information")
    editor = form.relation_editor()
    (child,) = relation_children(editor)
    editor.unlinkFeatures([child.id()])
    assert form.save()
    snapshot = town.snapshot()
    failure = commit(town)
    assert failure.problems[0].field == "sanitation_system_id" and "needs at least one containment" in failure.text()
    assert town.snapshot() == snapshot
    layer = town["buildings"]
    layer.changeAttributeValue(town.feature("buildings", "bin", bin_).id(), layer.fields().indexOf("sanitation_system_id"), 6)
    assert commit(town) is None
    assert town.one("SELECT deleted_at IS NOT NULL FROM building_info.build_contains WHERE bin = %s "
                    "AND containment_id = %s", (bin_, cid)) is True
    assert town.one("SELECT deleted_at FROM fsm.containments WHERE id = %s", (cid,)) is None  # only the link goes
    notes = town.session().last_result.notes
    assert any(cid in note and "no building" in note for note in notes)


def test_unlink_refused_while_an_emptying_is_in_progress(edit_town):
    town = edit_town
    bin_ = pick(town, "b.sanitation_system_id IN (3, 4) AND " + ONE_LINK)
    cid = containment_of(town, bin_)
    town.execute("INSERT INTO fsm.applications (bin, containment_id, emptying_status) VALUES (%s, %s, false)", (bin_, cid))
    links = town["build_contains"]
    assert town["buildings"].startEditing()
    link = next(f for f in links.getFeatures() if f["bin"] == bin_ and f["containment_id"] == cid)
    assert links.deleteFeature(link.id())
    town["buildings"].changeAttributeValue(town.feature("buildings", "bin", bin_).id(),
                                           town["buildings"].fields().indexOf("sanitation_system_id"), 5)
    snapshot = town.snapshot()
    failure = commit(town)
    assert any("emptying application" in p.message and cid in p.message for p in failure.problems)
    assert town.snapshot() == snapshot


# --- consistency and propagation ------------------------------------------------------------------------

def test_containment_connected_to_the_sewer_needs_the_buildings_sewer_code(edit_town):
    town = edit_town
    bin_ = pick(town, "b.sanitation_system_id = 3 AND b.sewer_code IS NULL AND " + ONE_LINK)
    cid = containment_of(town, bin_)
    set_attributes(town, "containments", "id", cid, {"type_id": 1})  # Septic Tank connected to Sewer Network
    snapshot = town.snapshot()
    failure = commit(town, "containments")
    problem = failure.problems[0]
    assert problem.field == "sewer_code" and bin_ in problem.what and cid in problem.message
    assert town.snapshot() == snapshot
    sewer = town.one("SELECT min(code) FROM utility_info.sewers WHERE deleted_at IS NULL")
    set_attributes(town, "buildings", "bin", bin_, {"sewer_code": sewer})
    last = town.last_revision_id()
    assert commit(town, "containments") is None
    assert town.one("SELECT type_id FROM fsm.containments WHERE id = %s", (cid,)) == 1
    assert town.one("SELECT sewer_code FROM building_info.buildings WHERE bin = %s", (bin_,)) == sewer
    keys = {(r[0], r[3]) for r in town.revisions_since(last)}
    assert (CONTAINMENT, "type_id") in keys and (BUILDING, "sewer_code") in keys


def test_drain_code_is_cleared_when_no_containment_drains(edit_town):
    town = edit_town
    bin_ = pick(town, "b.sanitation_system_id = 3 AND " + ONE_LINK +
                " AND (SELECT type_id FROM fsm.containments c JOIN building_info.build_contains bc ON bc.containment_id = c.id "
                "WHERE bc.bin = b.bin AND bc.deleted_at IS NULL LIMIT 1) NOT IN (1, 2, 13, 14)")
    drain = town.one("SELECT min(code) FROM utility_info.drains WHERE deleted_at IS NULL")
    set_attributes(town, "buildings", "bin", bin_, {"drain_code": drain, "tax_code": "TX-R5"})
    assert commit(town) is None
    assert town.one("SELECT drain_code, tax_code FROM building_info.buildings WHERE bin = %s", (bin_,)) == (None, "TX-R5")


def test_changing_a_containment_type_to_a_pit_moves_its_building_to_the_pit_system(edit_town):
    town = edit_town
    bin_ = pick(town, "b.sanitation_system_id = 3 AND " + ONE_LINK)
    cid = containment_of(town, bin_)
    pit = town.one("SELECT min(id) FROM fsm.containment_types WHERE sanitation_system_id = 4 AND id NOT IN (13, 14)")
    set_attributes(town, "containments", "id", cid, {"type_id": pit, "pit_diameter": 1.0, "depth": 1.5,
                                                     "tank_length": None, "tank_width": None})
    last = town.last_revision_id()
    assert commit(town, "containments") is None
    assert town.one("SELECT sanitation_system_id, toilet_status FROM building_info.buildings WHERE bin = %s",
                    (bin_,)) == (4, True)
    rows = {(r[0], r[1], r[3]): r[4:] for r in town.revisions_since(last)}
    assert rows[(BUILDING, bin_, "sanitation_system_id")] == ("3", "4")
    assert rows[(CONTAINMENT, cid, "type_id")][1] == str(pit)


def test_editing_a_containment_keeps_its_emptying_history(edit_town):
    """Defect E1: IMIS resets emptied_status and no_of_times_emptied on every edit."""
    town = edit_town
    cid = town.one("SELECT min(id) FROM fsm.containments WHERE deleted_at IS NULL AND emptied_status")
    before = town.one("SELECT emptied_status, no_of_times_emptied, last_emptied_date FROM fsm.containments WHERE id = %s",
                      (cid,))
    set_attributes(town, "containments", "id", cid, {"location": "Outside the house"})
    assert commit(town, "containments") is None
    assert town.one("SELECT emptied_status, no_of_times_emptied, last_emptied_date FROM fsm.containments WHERE id = %s",
                    (cid,)) == before
    assert town.one("SELECT location FROM fsm.containments WHERE id = %s", (cid,)) == "Outside the house"


def test_emptying_columns_cannot_be_edited(edit_town):
    town = edit_town
    cid = town.one("SELECT min(id) FROM fsm.containments WHERE deleted_at IS NULL")
    set_attributes(town, "containments", "id", cid, {"no_of_times_emptied": 9})
    snapshot = town.snapshot()
    failure = commit(town, "containments")
    assert failure.problems[0].field == "no_of_times_emptied" and "emptying" in failure.problems[0].message
    assert town.snapshot() == snapshot


def test_changing_the_community_toilet_replaces_the_link(edit_town):
    town = edit_town
    bin_ = pick(town, "b.sanitation_system_id = 9 AND EXISTS (SELECT 1 FROM fsm.build_toilets t WHERE t.bin = b.bin "
                      "AND t.deleted_at IS NULL)")
    old = town.one("SELECT toilet_id FROM fsm.build_toilets WHERE bin = %s AND deleted_at IS NULL", (bin_,))
    new = town.one("SELECT min(id) FROM fsm.toilets WHERE type = 'Community Toilet' AND status AND deleted_at IS NULL "
                   "AND id <> %s", (old,))
    assert town["buildings"].startEditing()
    form = Form(town["buildings"], town.feature("buildings", "bin", bin_))
    form.set("community_toilet_id", town.one("SELECT name FROM fsm.toilets WHERE id = %s", (new,)))
    assert form.save()
    assert town["buildings"].isModified()
    assert commit(town) is None
    rows = town.query("SELECT toilet_id, deleted_at IS NOT NULL FROM fsm.build_toilets WHERE bin = %s ORDER BY id", (bin_,))
    assert (old, True) in rows and rows[-1] == (new, False)
    assert sum(1 for _, deleted in rows if not deleted) == 1


def test_a_toilet_instead_of_the_community_toilet_ends_the_link(edit_town):
    town = edit_town
    bin_ = pick(town, "b.sanitation_system_id = 9 AND EXISTS (SELECT 1 FROM fsm.build_toilets t WHERE t.bin = b.bin "
                      "AND t.deleted_at IS NULL)")
    sewer = town.one("SELECT min(code) FROM utility_info.sewers WHERE deleted_at IS NULL")
    set_attributes(town, "buildings", "bin", bin_, {"toilet_status": True, "sanitation_system_id": 1, "toilet_count": 1,
                                                   "sewer_code": sewer})
    assert commit(town) is None
    assert town.one("SELECT count(*) FROM fsm.build_toilets WHERE bin = %s AND deleted_at IS NULL", (bin_,)) == 0


def test_shared_septic_tank_links_the_hosts_containment_and_adopts_its_system(edit_town):
    town = edit_town
    bin_ = pick(town, "b.sanitation_system_id = 5 AND b.toilet_status AND " + NO_LINK)
    host = pick(town, "b.sanitation_system_id = 4 AND " + ONE_LINK + " AND (SELECT c.type_id FROM fsm.containments c "
                      "JOIN building_info.build_contains bc ON bc.containment_id = c.id WHERE bc.bin = b.bin AND "
                      "bc.deleted_at IS NULL LIMIT 1) NOT IN (1, 2, 13, 14)")
    cid = containment_of(town, host)
    feature = set_attributes(town, "buildings", "bin", bin_, {"sanitation_system_id": 11})
    links = town["build_contains"]
    assert links.isEditable()
    link = links.fields()
    from qgis.core import QgsVectorLayerUtils

    new_link = QgsVectorLayerUtils.createFeature(links, attributes={link.indexOf("bin"): bin_,
                                                                   link.indexOf("containment_id"): cid})
    assert links.addFeature(new_link)  # what the relation editor's "link existing" does
    assert feature is not None
    assert commit(town) is None
    assert town.one("SELECT sanitation_system_id FROM building_info.buildings WHERE bin = %s", (bin_,)) == 4
    assert town.query("SELECT containment_id FROM building_info.build_contains WHERE bin = %s AND deleted_at IS NULL",
                      (bin_,)) == [(cid,)]


def test_a_second_live_link_for_the_same_pair_is_never_made(edit_town):
    """Defect E10: re-saving a shared septic tank adds an identical link in IMIS."""
    town = edit_town
    bin_ = pick(town, "b.sanitation_system_id = 3 AND " + ONE_LINK)
    cid = containment_of(town, bin_)
    links = town["build_contains"]
    assert town["buildings"].startEditing()
    from qgis.core import QgsVectorLayerUtils

    fields = links.fields()
    assert links.addFeature(QgsVectorLayerUtils.createFeature(
        links, attributes={fields.indexOf("bin"): bin_, fields.indexOf("containment_id"): cid}))
    assert commit(town) is None
    assert town.one("SELECT count(*) FROM building_info.build_contains WHERE bin = %s AND containment_id = %s "
                    "AND deleted_at IS NULL", (bin_, cid)) == 1


def test_a_building_changed_in_imis_meanwhile_is_not_overwritten(edit_town):
    town = edit_town
    bin_ = pick(town, "b.sanitation_system_id = 3 AND " + ONE_LINK)
    set_attributes(town, "buildings", "bin", bin_, {"tax_code": "TX-MINE"})
    town.execute("UPDATE building_info.buildings SET tax_code = 'TX-WEB', updated_at = updated_at + interval '1 minute' "
                 "WHERE bin = %s", (bin_,))
    snapshot = town.snapshot()
    failure = commit(town)
    assert "changed in IMIS" in failure.problems[0].message
    assert town.snapshot() == snapshot
    assert town.one("SELECT tax_code FROM building_info.buildings WHERE bin = %s", (bin_,)) == "TX-WEB"


def test_main_building_must_be_a_live_main_building(edit_town):
    town = edit_town
    bin_ = pick(town, "b.building_associated_to IS NULL AND b.sanitation_system_id = 3 AND " + ONE_LINK)
    deleted = town.one("SELECT min(bin) FROM building_info.buildings WHERE deleted_at IS NOT NULL")
    set_attributes(town, "buildings", "bin", bin_, {"building_associated_to": deleted})
    failure = commit(town)
    assert failure.problems[0].field == "building_associated_to"
    main = pick(town, "b.building_associated_to IS NULL AND b.bin <> %s", (bin_,))
    set_attributes(town, "buildings", "bin", bin_, {"building_associated_to": main})
    assert commit(town) is None
    assert town.one("SELECT building_associated_to FROM building_info.buildings WHERE bin = %s", (bin_,)) == main


def test_deleted_road_is_refused_r13(edit_town):
    town = edit_town
    bin_ = pick(town, "b.sanitation_system_id = 3 AND " + ONE_LINK)
    road = town.one("SELECT min(code) FROM utility_info.roads WHERE deleted_at IS NOT NULL")
    set_attributes(town, "buildings", "bin", bin_, {"road_code": road})
    failure = commit(town)
    assert failure.problems[0].field == "road_code" and "deleted" in failure.problems[0].message


def test_no_imis_user_at_save_time_writes_nothing(edit_town):
    from imis.imis_plugin import settings

    town = edit_town
    bin_ = pick(town, "b.sanitation_system_id = 3 AND " + ONE_LINK)
    set_attributes(town, "buildings", "bin", bin_, {"tax_code": "TX-NOBODY"})
    settings.set_imis_user_id(None)
    snapshot = town.snapshot()
    failure = commit(town)
    settings.set_imis_user_id(town.user_id)
    assert "IMIS user" in failure.text()
    assert town.snapshot() == snapshot and town["buildings"].isModified()


def test_save_all_saves_every_imis_layer_in_one_transaction_or_nothing(edit_town):
    town = edit_town
    bin_ = pick(town, "b.sanitation_system_id = 3 AND " + ONE_LINK)
    cid = containment_of(town, bin_)
    set_attributes(town, "containments", "id", cid, {"location": "Inside the house"})
    set_attributes(town, "buildings", "bin", bin_, {"floor_count": -1})  # invalid: the whole save must fail
    snapshot = town.snapshot()
    for key in ("containments", "buildings"):  # what QGIS's "Save All Edits" does, layer after layer
        town[key].commitChanges(False)
    assert town.session().last_failure is not None
    assert town.snapshot() == snapshot
    assert town["containments"].isModified() and town["buildings"].isModified()
    set_attributes(town, "buildings", "bin", bin_, {"floor_count": 3})
    for key in ("containments", "buildings"):
        town[key].commitChanges(False)
    assert town.one("SELECT floor_count FROM building_info.buildings WHERE bin = %s", (bin_,)) == 3
    assert town.one("SELECT location FROM fsm.containments WHERE id = %s", (cid,)) == "Inside the house"
    assert not town["containments"].isModified() and not town["buildings"].isModified()


@pytest.mark.parametrize("stop", [True, False])
def test_stopping_editing_with_save_keeps_failed_edits_editable(edit_town, stop):
    town = edit_town
    bin_ = pick(town, "b.sanitation_system_id = 3 AND " + ONE_LINK)
    set_attributes(town, "buildings", "bin", bin_, {"floor_count": -4})
    town["buildings"].commitChanges(stop)
    assert town["buildings"].isEditable() and town["buildings"].isModified()
