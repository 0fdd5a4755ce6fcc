"""IMIS's building and containment rules as pure functions (EDITING.md §3, §4, §6, §7)."""
import datetime
from decimal import Decimal

import pytest

from imis.forms import rules
from imis.forms.fields import BUILDING_FIELDS, BUILDING_SPECS, CONTAINMENT_SPECS, TOILET_LINK_FIELD

TODAY = datetime.date(2024, 6, 30)
SYSTEMS = {1: "Sewer Network", 2: "Drain Network", 3: "Septic Tank", 4: "Pit/ Holding Tank", 5: "Onsite Treatment",
           6: "Composting Toilet", 7: "Water Body", 8: "Open Ground", 9: "Community Toilet", 10: "Open Defecation",
           11: "Shared Septic Tank", 12: "Shared Toilet"}
TYPES = {**{i: 3 for i in range(1, 8)}, **{i: 4 for i in range(8, 17)}}


@pytest.fixture
def facts():
    return rules.Facts(
        today=TODAY, municipal_sources=frozenset({10}), use_category_use={1: 1, 2: 1, 14: 5},
        type_system=TYPES, system_names=SYSTEMS, type_names={i: f"type {i}" for i in TYPES},
    )


def building(**changes):
    rec = dict(
        bin="B000001", owner_name="Ann", owner_gender="Female", owner_contact=9800000000,
        building_associated_to=None, ward=1, road_code="R1", house_number=None, tax_code="T1",
        structure_type_id=1, construction_year=datetime.date(2000, 1, 1), floor_count=Decimal("2.00"),
        functional_use_id=1, household_served=1, population_served=4, low_income_hh=False,
        water_source_id=1, toilet_status=True, toilet_count=1, sanitation_system_id=3,
    )
    rec.update(changes)
    return rec


def fields_of(problems):
    return sorted(p.field for p in problems)


def test_a_complete_building_has_no_problems(facts):
    assert rules.building_problems(building(), facts, creating=True) == []


@pytest.mark.parametrize("column", [s.column for s in BUILDING_FIELDS if s.required])
def test_always_required_fields(facts, column):
    problems = rules.building_problems(building(**{column: None}), facts, creating=False)
    assert column in fields_of(problems)
    assert BUILDING_SPECS[column].label in problems[0].message


def test_owner_contact_required_on_create_only(facts):
    rec = building(owner_contact=None)
    assert fields_of(rules.building_problems(rec, facts, creating=True)) == ["owner_contact"]
    assert rules.building_problems(rec, facts, creating=False) == []


def test_owner_contact_must_fit_bigint_and_be_positive(facts):
    assert fields_of(rules.building_problems(building(owner_contact=-1), facts, False)) == ["owner_contact"]
    assert fields_of(rules.building_problems(building(owner_contact=2**63), facts, False)) == ["owner_contact"]
    assert rules.building_problems(building(owner_contact=2**63 - 1), facts, False) == []


def test_sewer_code_required_for_a_sewer_connection(facts):
    problems = rules.building_problems(building(sanitation_system_id=1, sewer_code=None), facts, False)
    assert fields_of(problems) == ["sewer_code"]
    assert "Sewer Network" in problems[0].message
    assert rules.building_problems(building(sanitation_system_id=1, sewer_code="S1"), facts, False) == []


def test_drain_code_required_for_a_drain_connection(facts):
    assert fields_of(rules.building_problems(building(sanitation_system_id=2), facts, False)) == ["drain_code"]
    assert rules.building_problems(building(sanitation_system_id=2, drain_code="D1"), facts, False) == []


def test_pipe_code_required_for_the_municipal_source_only(facts):
    assert fields_of(rules.building_problems(building(water_source_id=10), facts, False)) == ["watersupply_pipe_code"]
    assert rules.building_problems(building(water_source_id=10, watersupply_pipe_code="W1"), facts, False) == []
    assert not rules.building_field_shown("watersupply_pipe_code", building(water_source_id=1), facts)


def test_toilet_count_required_with_a_toilet_only(facts):
    assert fields_of(rules.building_problems(building(toilet_count=None), facts, False)) == ["toilet_count"]
    no_toilet = building(toilet_status=False, toilet_count=None, sanitation_system_id=10)
    assert rules.building_problems(no_toilet, facts, False) == []


def test_community_toilet_required_for_defecation_place_9(facts):
    rec = building(toilet_status=False, toilet_count=None, sanitation_system_id=9)
    assert fields_of(rules.building_problems(rec, facts, False)) == [TOILET_LINK_FIELD]
    rec[TOILET_LINK_FIELD] = 5
    assert rules.building_problems(rec, facts, False) == []


def test_toilet_connection_and_defecation_place_are_consistent_r1(facts):
    problems = rules.building_problems(building(sanitation_system_id=10), facts, False)
    assert fields_of(problems) == ["sanitation_system_id"]
    problems = rules.building_problems(
        building(toilet_status=False, toilet_count=None, sanitation_system_id=3), facts, False)
    assert fields_of(problems) == ["sanitation_system_id"]
    # Names come from the lookup table, not from code.
    assert "'Community Toilet'" in problems[0].message


def test_use_category_must_belong_to_the_functional_use_r8(facts):
    assert fields_of(rules.building_problems(building(use_category_id=14), facts, False)) == ["use_category_id"]
    assert rules.building_problems(building(use_category_id=2), facts, False) == []


def test_main_building_cannot_be_itself_r11(facts):
    rec = building(building_associated_to="B000001")
    assert fields_of(rules.building_problems(rec, facts, False)) == ["building_associated_to"]


@pytest.mark.parametrize("column,value", [
    ("floor_count", -1), ("floor_count", Decimal("1.5")), ("household_served", "x"),
    ("population_served", -3), ("male_population", -1), ("toilet_count", 1.5),
])
def test_counts_are_whole_and_not_negative(facts, column, value):
    assert fields_of(rules.building_problems(building(**{column: value}), facts, False)) == [column]


def test_dates_cannot_be_in_the_future(facts):
    tomorrow = TODAY + datetime.timedelta(days=1)
    assert fields_of(rules.building_problems(building(construction_year=tomorrow), facts, False)) == ["construction_year"]
    assert fields_of(rules.building_problems(building(surveyed_date=tomorrow), facts, False)) == ["surveyed_date"]
    assert rules.building_problems(building(surveyed_date=TODAY), facts, False) == []


def test_text_lengths_and_choices(facts):
    assert fields_of(rules.building_problems(building(tax_code="x" * 255), facts, False)) == ["tax_code"]
    assert fields_of(rules.building_problems(building(owner_gender="F"), facts, False)) == ["owner_gender"]


def test_hidden_fields_are_not_checked_but_cleared(facts):
    rec = building(functional_use_id=1, office_business_name="Shop", well_presence_status=False,
                   distance_from_well=-5, water_customer_id="WC1", watersupply_pipe_code="W1")
    assert rules.building_problems(rec, facts, False) == []
    assert rules.normalise_building(rec, facts) == {
        "office_business_name": None, "distance_from_well": None, "water_customer_id": None,
        "watersupply_pipe_code": None,
    }


def test_normalise_clears_what_the_system_excludes(facts):
    assert rules.normalise_building(building(sanitation_system_id=1, sewer_code="S", drain_code="D"), facts) == \
        {"drain_code": None}
    assert rules.normalise_building(building(sanitation_system_id=6, sewer_code="S", drain_code="D"), facts) == \
        {"sewer_code": None, "drain_code": None}
    no_toilet = building(toilet_status=False, sanitation_system_id=10, toilet_count=2,
                         household_with_private_toilet=1, population_with_private_toilet=3)
    assert rules.normalise_building(no_toilet, facts) == {
        "toilet_count": None, "household_with_private_toilet": None, "population_with_private_toilet": None}
    assert rules.normalise_building(building(house_number="  "), facts) == {"house_number": None}


def test_zero_and_no_are_values_not_null(facts):
    """Defect E4: IMIS stores 0 and No as NULL; the plugin keeps them."""
    rec = building(floor_count=0, household_served=0, population_served=0, toilet_count=0,
                   low_income_hh=False, desludging_vehicle_accessible=False)
    assert rules.building_problems(rec, facts, False) == []
    assert rules.normalise_building(rec, facts) == {}


def test_link_rules_r4_r5(facts):
    rec = building(sanitation_system_id=3, sewer_code=None, drain_code="D1")
    problems, changes = rules.link_problems(rec, [], facts)
    assert fields_of(problems) == ["sanitation_system_id"]
    # A septic tank linked to the sewer needs the sewer code; the drain code goes.
    problems, changes = rules.link_problems(rec, [("C1", 1)], facts)
    assert fields_of(problems) == ["sewer_code"] and "C1" in problems[0].message
    problems, changes = rules.link_problems(dict(rec, sewer_code="S1"), [("C1", 1)], facts)
    assert problems == [] and changes == {"drain_code": None}
    # Every linked containment must belong to the building's system (not only the first: E11).
    problems, _ = rules.link_problems(rec, [("C1", 3), ("C2", 9)], facts)
    assert fields_of(problems) == ["sanitation_system_id"] and "C2" in problems[0].message


def test_link_rules_r2_r3_r6_r7(facts):
    for system in (1, 2, 5, 8):
        problems, _ = rules.link_problems(building(sanitation_system_id=system), [("C1", 3)], facts)
        assert fields_of(problems) == ["sanitation_system_id"]
    problems, _ = rules.link_problems(building(toilet_status=False, sanitation_system_id=10), [("C1", 3)], facts)
    assert fields_of(problems) == ["sanitation_system_id"]
    assert rules.link_problems(building(sanitation_system_id=5), [], facts) == ([], {})


def test_rules_on_hard_coded_ids_are_off_when_the_ids_moved(facts):
    facts.ids_ok = False
    assert rules.building_problems(building(sanitation_system_id=10), facts, False) == []
    assert rules.link_problems(building(sanitation_system_id=1), [("C1", 3)], facts) == ([], {})


# --- ids --------------------------------------------------------------------------------------

def test_next_key_counts_on_from_the_highest_number():
    assert rules.next_key("B", 123) == "B000124"
    assert rules.next_key("C", 0) == "C000001"
    assert rules.next_keys("B", 9, 3) == ["B000010", "B000011", "B000012"]
    assert rules.key_number("B000123") == 123
    assert rules.key_number("B12") is None and rules.key_number("X000001") is None


def test_next_key_stops_at_the_last_bin_owners_can_hold():
    assert rules.next_key("B", 999998) == "B999999"
    with pytest.raises(ValueError, match="B999999"):
        rules.next_key("B", 999999)


def test_house_number_suggestion():
    assert rules.house_number_suggestion("R0012", 41) == "R0012 - 0042"
    assert rules.house_number_suggestion(None, 3) is None


# --- containments -------------------------------------------------------------------------------

def containment(**changes):
    rec = dict(id="C000001", type_id=3, location="Inside the house", size=None, pit_diameter=None,
               tank_length=None, tank_width=None, depth=None, septic_criteria=None, construction_date=None)
    rec.update(changes)
    return rec


def test_septic_volume_is_length_width_depth(facts):
    assert rules.containment_volume(containment(tank_length=2, tank_width=1.5, depth=1.2), facts) == Decimal("3.60")


def test_cylindrical_pit_volume(facts):
    rec = containment(type_id=9, pit_diameter=1.5, depth=2)
    # pi * 0.75^2 * 2 = 3.534291...
    assert rules.containment_volume(rec, facts) == Decimal("3.53")
    assert rules.containment_kind(rec, facts) == "pit-cylindrical"


def test_rectangular_pit_is_recognised_by_its_length(facts):
    rec = containment(type_id=10, tank_length=1, tank_width=1, depth=1.005)
    assert rules.containment_kind(rec, facts) == "pit-rectangular"
    assert rules.containment_volume(rec, facts) == Decimal("1.01")  # half away from zero


def test_missing_dimension_leaves_volume_empty_and_then_required(facts):
    rec = containment(tank_length=2, tank_width=None, depth=1)
    assert rules.containment_volume(rec, facts) is None
    problems = rules.containment_problems(rec, facts, creating=True)
    assert fields_of(problems) == ["size"] and "dimensions" in problems[0].message
    assert rules.containment_problems(dict(rec, size=4), facts, creating=True) == []


def test_normalise_containment_computes_volume_and_keeps_the_right_dimensions(facts):
    septic = containment(tank_length=2, tank_width=1, depth=1, pit_diameter=3)
    assert rules.normalise_containment(septic, facts) == {"pit_diameter": None, "size": Decimal("2.00")}
    pit = containment(type_id=9, pit_diameter=1, depth=1, septic_criteria=True)
    assert rules.normalise_containment(pit, facts) == {"septic_criteria": None, "size": Decimal("0.79")}
    entered = containment(tank_length=2, tank_width=1, depth=1, size=7)
    assert "size" not in rules.normalise_containment(entered, facts)


def test_pit_depth_is_kept_for_rectangular_pits(facts):
    """Defect E2: IMIS loses a rectangular pit's depth."""
    rec = containment(type_id=12, tank_length=1, tank_width=2, depth=1.5)
    assert "depth" not in rules.normalise_containment(rec, facts)


def test_decimal_pit_diameter_is_accepted(facts):
    """Defect E15: IMIS accepts whole metres only."""
    assert rules.containment_problems(containment(type_id=9, pit_diameter=1.25, depth=1), facts, True) == []


def test_containment_type_limited_to_the_buildings_system(facts):
    problems = rules.containment_problems(containment(type_id=9, size=1), facts, True, building_system=3)
    assert fields_of(problems) == ["type_id"] and "Septic Tank" in problems[0].message
    assert rules.containment_problems(containment(type_id=2, size=1), facts, True, building_system=3) == []


def test_containment_type_required_and_volume_limits(facts):
    assert fields_of(rules.containment_problems(containment(type_id=None, size=1), facts, True)) == ["type_id"]
    assert fields_of(rules.containment_problems(containment(size=100000000), facts, True)) == ["size"]
    assert fields_of(rules.containment_problems(containment(size=-1), facts, True)) == ["size"]
    tomorrow = TODAY + datetime.timedelta(days=1)
    assert fields_of(rules.containment_problems(containment(size=1, construction_date=tomorrow), facts, True)) == \
        ["construction_date"]


def test_pit_with_both_shapes_is_refused(facts):
    rec = containment(type_id=9, pit_diameter=1, tank_length=1, tank_width=1, depth=1)
    assert "pit_diameter" in fields_of(rules.containment_problems(rec, facts, True))


def test_containment_labels_are_imis_labels():
    assert CONTAINMENT_SPECS["size"].label == "Containment Volume (m³)"
    assert BUILDING_SPECS["watersupply_pipe_code"].label == "Water Supply Pipe Line Code"


def test_propagation_of_a_containment_type_to_its_building(facts):
    assert rules.propagate_type(building(sanitation_system_id=3), 9, facts) == {"sanitation_system_id": 4}
    assert rules.propagate_type(building(sanitation_system_id=4), 9, facts) == {}


def test_round2_is_half_away_from_zero():
    assert rules.round2(2.675) == Decimal("2.68")  # float 2.675 is 2.67499…; its text form is what is typed
    assert rules.round2("0.125") == Decimal("0.13")
    assert rules.round2(None) is None
