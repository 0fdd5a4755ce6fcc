"""The building and containment forms on the sample town's PostGIS layers, opened as real dialogs.

Each test fills widgets as an editor does and checks what IMIS's rules say (EDITING.md §3, §6):
which fields are shown, which are required, and that invalid input is stopped in the form,
before anything reaches the edit buffer.
"""
import datetime

import pytest

from tests.support.editing import Form, edit_db, edit_town, relation_children  # noqa: F401  (fixtures)

IMIS_TABS = ["Owner Information", "Building Information", "LIC Information", "Water Source Information",
             "Solid Waste Management Information", "Sanitation System Information", "Containment Information"]


def building_with(town, where, params=()):
    """BIN of a live building matching an SQL condition on b (buildings) and o (owners)."""
    sql = ("SELECT b.bin FROM building_info.buildings b JOIN building_info.owners o ON o.bin = b.bin "
           "WHERE b.deleted_at IS NULL AND " + where + " ORDER BY b.bin LIMIT 1")
    return town.one(sql, params)


@pytest.fixture
def septic_building(edit_town):
    """A live septic-tank building with its owner and exactly one live containment."""
    return building_with(edit_town, "b.sanitation_system_id = 3 AND b.toilet_status AND (SELECT count(*) FROM "
                                    "building_info.build_contains bc WHERE bc.bin = b.bin AND bc.deleted_at IS NULL) = 1")


def open_building(town, bin_):
    layer = town["buildings"]
    assert layer.startEditing()
    return Form(layer, town.feature("buildings", "bin", bin_))


def test_tabs_labels_and_lookup_names(edit_town, septic_building):
    form = open_building(edit_town, septic_building)
    assert form.tab("Containment Information") == IMIS_TABS
    layer = edit_town["buildings"]
    assert layer.attributeDisplayName(layer.fields().indexOf("watersupply_pipe_code")) == "Water Supply Pipe Line Code"
    assert layer.attributeDisplayName(layer.fields().indexOf("owner_contact")) == "Owner Contact Number"
    # Drop-downs show the names stored in the lookup tables (never names written in code).
    names = [row[0] for row in edit_town.query("SELECT type FROM building_info.structure_types ORDER BY type")]
    assert form.items("structure_type_id")[1:] == names
    owner = edit_town.one("SELECT owner_name FROM building_info.owners WHERE bin = %s", (septic_building,))
    assert form.value("owner_name") == owner


def test_containments_of_the_building_are_listed_through_build_contains(edit_town, septic_building):
    form = open_building(edit_town, septic_building)
    form.tab("Containment Information")
    listed = sorted(f["id"] for f in relation_children(form.relation_editor()))
    expected = [row[0] for row in edit_town.query(
        "SELECT c.id FROM building_info.build_contains bc JOIN fsm.containments c ON c.id = bc.containment_id "
        "WHERE bc.bin = %s AND bc.deleted_at IS NULL AND c.deleted_at IS NULL ORDER BY 1", (septic_building,))]
    assert listed == expected and len(expected) == 1


def test_use_category_list_follows_the_functional_use(edit_town, septic_building):
    form = open_building(edit_town, septic_building)
    use_id, use_name = edit_town.one(
        "SELECT id, name FROM building_info.functional_uses WHERE id <> 1 AND id IN "
        "(SELECT functional_use_id FROM building_info.use_categorys) ORDER BY id LIMIT 1")
    form.set("functional_use_id", use_name)
    expected = [row[0] for row in edit_town.query(
        "SELECT name FROM building_info.use_categorys WHERE functional_use_id = %s ORDER BY name", (use_id,))]
    assert [item for item in form.items("use_category_id") if item != "(no selection)"] == expected
    assert form.shown("office_business_name")  # not Residential: the business name is asked


def test_sewer_code_shown_and_required_for_a_sewer_connection(edit_town):
    bin_ = building_with(edit_town, "b.sanitation_system_id = 5 AND b.toilet_status")
    form = open_building(edit_town, bin_)
    assert not form.shown("sewer_code")
    sewer = edit_town.one("SELECT sanitation_system FROM building_info.sanitation_systems WHERE id = 1")
    form.set("sanitation_system_id", sewer)
    assert form.shown("sewer_code") and not form.shown("drain_code")
    assert not form.valid("sewer_code") and not form.can_save()
    assert not form.save()
    assert not edit_town["buildings"].isModified()  # stopped in the form: nothing reached the buffer
    form.set("sewer_code", edit_town.one("SELECT min(code) FROM utility_info.sewers WHERE deleted_at IS NULL"))
    assert form.valid("sewer_code") and form.can_save()


def test_drain_code_required_for_a_drain_connection(edit_town):
    bin_ = building_with(edit_town, "b.sanitation_system_id = 5 AND b.toilet_status")
    form = open_building(edit_town, bin_)
    form.set("sanitation_system_id", edit_town.one(
        "SELECT sanitation_system FROM building_info.sanitation_systems WHERE id = 2"))
    assert form.shown("drain_code") and not form.valid("drain_code") and not form.can_save()
    form.set("drain_code", edit_town.one("SELECT min(code) FROM utility_info.drains WHERE deleted_at IS NULL"))
    assert form.can_save()


def test_pipe_code_required_for_the_municipal_supply(edit_town, septic_building):
    form = open_building(edit_town, septic_building)
    municipal = edit_town.one("SELECT source FROM building_info.water_sources WHERE source ILIKE '%%municipal%%'")
    other = edit_town.one("SELECT source FROM building_info.water_sources WHERE source NOT ILIKE '%%municipal%%' "
                          "ORDER BY id LIMIT 1")
    form.set("water_source_id", other)
    assert not form.shown("watersupply_pipe_code") and form.can_save()
    form.set("water_source_id", municipal)
    assert form.shown("watersupply_pipe_code") and form.shown("water_customer_id")
    assert not form.valid("watersupply_pipe_code") and not form.can_save()
    form.set("watersupply_pipe_code", edit_town.one("SELECT min(code) FROM utility_info.water_supplys"))
    assert form.can_save()


def test_no_toilet_asks_the_defecation_place_and_community_toilet(edit_town, septic_building):
    bin_ = building_with(edit_town, "b.sanitation_system_id = 5 AND b.toilet_status")
    form = open_building(edit_town, bin_)
    assert form.shown("toilet_count") and form.shown("sanitation_system_id", 0)
    form.set("toilet_status", "No")
    # Without a toilet IMIS asks the Defecation Place (same column, second widget) instead.
    assert not form.shown("toilet_count") and not form.shown("sanitation_system_id", 0)
    assert form.shown("sanitation_system_id", 1)
    places = sorted(form.items("sanitation_system_id", 1)[1:])
    assert places == sorted(row[0] for row in edit_town.query(
        "SELECT sanitation_system FROM building_info.sanitation_systems WHERE id IN (9, 10, 12)"))
    community = edit_town.one("SELECT sanitation_system FROM building_info.sanitation_systems WHERE id = 9")
    form.set("sanitation_system_id", community, index=1)
    assert form.shown("community_toilet_id") and not form.valid("community_toilet_id") and not form.can_save()
    offered = form.items("community_toilet_id")[1:]
    assert sorted(offered) == sorted(row[0] for row in edit_town.query(
        "SELECT name FROM fsm.toilets WHERE type = 'Community Toilet' AND status AND deleted_at IS NULL"))
    form.set("community_toilet_id", offered[0])
    assert form.can_save()


def test_toilet_count_required_with_a_toilet(edit_town, septic_building):
    form = open_building(edit_town, septic_building)
    form.set("toilet_count", None)
    assert not form.valid("toilet_count") and not form.can_save()


@pytest.mark.parametrize("field,value", [
    ("floor_count", "-1"), ("floor_count", "1.5"), ("household_served", "many"), ("owner_contact", "-5"),
    ("tax_code", ""), ("owner_name", ""), ("male_population", "-2"),
])
def test_invalid_input_is_stopped_at_the_field(edit_town, septic_building, field, value):
    form = open_building(edit_town, septic_building)
    form.set(field, value)
    assert not form.valid(field)
    assert not form.save()
    assert not edit_town["buildings"].isModified() and not edit_town["owners"].isModified()


def test_dates_after_today_are_refused(edit_town, septic_building):
    form = open_building(edit_town, septic_building)
    form.set("construction_year", datetime.date.today() + datetime.timedelta(days=3))
    assert not form.valid("construction_year") and not form.can_save()


def test_use_category_of_another_functional_use_is_refused(edit_town, septic_building):
    form = open_building(edit_town, septic_building)
    foreign = edit_town.one("SELECT id FROM building_info.use_categorys WHERE functional_use_id <> "
                            "(SELECT functional_use_id FROM building_info.buildings WHERE bin = %s) LIMIT 1",
                            (septic_building,))
    form.form.changeAttribute("use_category_id", foreign)  # e.g. a value pasted before the use changed
    assert not form.valid("use_category_id") and not form.can_save()


def test_containment_form_hides_emptying_fields_from_editing_and_shows_dimensions_by_type(edit_town, septic_building):
    layer = edit_town["containments"]
    assert layer.startEditing()
    cid = edit_town.one("SELECT containment_id FROM building_info.build_contains WHERE bin = %s AND deleted_at IS NULL",
                        (septic_building,))
    form = Form(layer, edit_town.feature("containments", "id", cid))
    for column in ("emptied_status", "last_emptied_date", "next_emptying_date", "no_of_times_emptied"):
        assert not form.editable(column), column
    assert form.editable("size") and not form.editable("id")
    assert form.shown("tank_length") and not form.shown("pit_diameter") and form.shown("septic_criteria")
    pit = edit_town.one("SELECT type FROM fsm.containment_types WHERE sanitation_system_id = 4 ORDER BY id LIMIT 1")
    form.set("type_id", pit)
    form.set("tank_length", None)
    form.set("tank_width", None)
    assert form.shown("pit_diameter") and not form.shown("septic_criteria")
    # Volume: computable from the dimensions, or required.
    form.set("size", None)
    form.set("depth", None)
    assert not form.valid("size") and not form.can_save()
    form.set("pit_diameter", "1.2")
    form.set("depth", "2")
    assert form.valid("size") and form.can_save()


def test_editing_is_refused_until_an_imis_user_is_chosen(edit_town):
    from imis.forms.setup import refresh_editability
    from imis.imis_plugin import settings

    settings.set_imis_user_id(None)
    refresh_editability()
    assert not edit_town["buildings"].startEditing()
    assert not edit_town["containments"].startEditing()
    settings.set_imis_user_id(edit_town.user_id)
    refresh_editability()
    assert edit_town["buildings"].startEditing()


# --- what the form fills in while the editor types ---------------------------------------------------

def test_population_is_the_sum_of_male_female_and_other(edit_town, septic_building):
    form = open_building(edit_town, septic_building)
    form.set("male_population", "4")
    form.set("female_population", "5")
    form.set("other_population", "")
    assert form.value("population_served") == 9


def test_house_number_is_suggested_from_the_road_in_a_new_building(edit_town):
    from qgis.core import QgsVectorLayerUtils

    layer = edit_town["buildings"]
    assert layer.startEditing()
    form = Form(layer, QgsVectorLayerUtils.createFeature(layer), adding=True)
    road = edit_town.one("SELECT road_code FROM building_info.buildings WHERE deleted_at IS NULL "
                         "GROUP BY road_code ORDER BY count(*) DESC, road_code LIMIT 1")
    on_road = edit_town.one("SELECT count(*) FROM building_info.buildings WHERE deleted_at IS NULL AND road_code = %s",
                            (road,))
    form.set("road_code", road)
    assert form.value("house_number") == f"{road} - {on_road + 1:04d}"
    form.set("house_number", "MY-OWN-NUMBER")
    other = edit_town.one("SELECT min(code) FROM utility_info.roads WHERE deleted_at IS NULL AND code <> %s", (road,))
    form.set("road_code", other)
    assert form.value("house_number") == "MY-OWN-NUMBER"  # the editor's own number is never replaced


def test_containment_volume_is_computed_while_typing(edit_town, septic_building):
    layer = edit_town["containments"]
    assert layer.startEditing()
    cid = edit_town.one("SELECT containment_id FROM building_info.build_contains WHERE bin = %s AND deleted_at IS NULL",
                        (septic_building,))
    form = Form(layer, edit_town.feature("containments", "id", cid))
    form.set("size", "")
    form.set("tank_length", "2")
    form.set("tank_width", "1.5")
    form.set("depth", "1.1")
    assert float(form.value("size")) == 3.3
    form.set("depth", "2")  # still the computed value: recomputed
    assert float(form.value("size")) == 6.0


def test_a_change_made_in_imis_after_the_form_opened_is_not_overwritten(edit_town, septic_building):
    form = open_building(edit_town, septic_building)
    edit_town.execute("UPDATE building_info.buildings SET tax_code = 'TX-WEB', updated_at = updated_at + "
                      "interval '1 minute' WHERE bin = %s", (septic_building,))
    form.set("floor_count", "7")
    assert form.save()
    session = edit_town.session()
    edit_town["buildings"].commitChanges(False)
    assert session.last_failure is not None and "changed in IMIS" in session.last_failure.text()
    assert edit_town.one("SELECT tax_code, floor_count FROM building_info.buildings WHERE bin = %s",
                         (septic_building,))[0] == "TX-WEB"
