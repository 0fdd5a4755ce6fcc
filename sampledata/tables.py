"""Column specs of the IMIS tables the sample town fills (as in sql/schema.sql).

``TABLES`` maps a qualified table name to its columns in database order, each as
``(name, kind)``. It is ordered so that loading in iteration order satisfies every
foreign key. ``LOOKUP_KINDS`` types the columns of the lookup tables of
``sampledata.lookups.LOOKUPS`` (for the GeoPackage writer).

Kinds: ``int``, ``bigint``, ``text``, ``numeric``, ``float``, ``bool``, ``date``,
``timestamp`` and the geometry kinds ``point``, ``multipolygon``, ``multilinestring``
(always SRID 4326, 2D, column ``geom``).
"""

GEOMETRY_KINDS = {"point": "Point", "multipolygon": "MultiPolygon", "multilinestring": "MultiLineString"}

_TS = [("created_at", "timestamp"), ("updated_at", "timestamp"), ("deleted_at", "timestamp")]


def _spec(text):
    cols = []
    for item in text.split(","):
        item = item.strip()
        if item:
            name, kind = item.split()
            cols.append((name, kind))
    return cols


_COUNTERS = _spec("""
    total_rdlen float, no_build int, no_popsrv int, no_hhsrv int, no_rcc_framed int,
    no_load_bearing int, no_wooden_mud int, no_cgi_sheet int,
    no_build_directly_to_sewerage_network int, no_contain int, no_septic_tank int,
    no_pit_holding_tank int, no_emptying int, bldgtaxpdprprtn float, wtrpmntprprtn float,
    swmsrvpmntprprtn float""")

TABLES = {
    "fsm.treatment_plants": _spec("""
        id int, name text, location text, type int, capacity_per_day numeric,
        caretaker_name text, caretaker_gender text, caretaker_number bigint, status bool,
        geom point""") + _TS,
    "auth.users": _spec("""
        id int, name text, gender text, username text, email text, password text,
        remember_token text, user_type text, treatment_plant_id int, help_desk_id int,
        service_provider_id int, status int""") + _TS,
    "layer_info.wards": [("ward", "int"), ("geom", "multipolygon"), ("area", "float")] + _COUNTERS + _TS,
    "layer_info.citypolys": _spec("id int, name text, area float, geom multipolygon") + _TS,
    "layer_info.waterbodys": _spec("id int, name text, type text, geom multipolygon") + _TS,
    "layer_info.landuses": _spec("id int, class text, area numeric, geom multipolygon") + _TS,
    "layer_info.places": _spec("id int, name text, ward int, geom point") + _TS,
    "layer_info.low_income_communities": _spec("""
        id int, community_name text, geom multipolygon, no_of_buildings int,
        number_of_households int, population_total int, population_male int,
        population_female int, population_others int, no_of_septic_tank int,
        no_of_holding_tank int, no_of_pit int, no_of_sewer_connection int,
        no_of_community_toilets int, user_id int""") + _TS,
    "utility_info.roads": _spec("""
        code text, name text, hierarchy text, right_of_way numeric, carrying_width numeric,
        surface_type text, length numeric, geom multilinestring, user_id int""") + _TS,
    "utility_info.drains": _spec("""
        code text, road_code text, cover_type text, surface_type text, size numeric,
        length numeric, treatment_plant_id int, geom multilinestring, user_id int""") + _TS,
    "utility_info.sewers": _spec("""
        code text, road_code text, location text, length numeric, diameter numeric,
        treatment_plant_id int, geom multilinestring, user_id int""") + _TS,
    "utility_info.water_supplys": _spec("""
        code text, road_code text, project_name text, type text, material_type text,
        diameter numeric, length numeric, geom multilinestring, user_id int""") + _TS,
    "fsm.toilets": _spec("""
        id int, name text, type text, ward int, location_name text, bin text,
        access_frm_nearest_road int, status bool, caretaker_name text, caretaker_gender text,
        caretaker_contact_number bigint, owner text, owning_institution_name text,
        operator_or_maintainer text, operator_or_maintainer_name text, total_no_of_toilets int,
        total_no_of_urinals int, male_or_female_facility bool, male_seats int, female_seats int,
        handicap_facility bool, pwd_seats int, children_facility bool,
        separate_facility_with_universal_design bool, indicative_sign bool,
        sanitary_supplies_disposal_facility bool, fee_collected bool,
        amount_of_fee_collected numeric, frequency_of_fee_collected text, geom point""") + _TS,
    "building_info.buildings": _spec("""
        bin text, building_associated_to text, ward int, road_code text, house_number text,
        house_locality text, tax_code text, structure_type_id int, surveyed_date date,
        floor_count numeric, construction_year date, functional_use_id int,
        use_category_id int, office_business_name text, household_served int,
        population_served int, male_population int, female_population int,
        other_population int, diff_abled_male_pop int, diff_abled_female_pop int,
        diff_abled_others_pop int, low_income_hh bool, lic_id int, water_source_id int,
        watersupply_pipe_code text, water_customer_id text, well_presence_status bool,
        distance_from_well numeric, swm_customer_id text, toilet_status bool, toilet_count int,
        household_with_private_toilet int, population_with_private_toilet int,
        sanitation_system_id int, sewer_code text, drain_code text,
        desludging_vehicle_accessible bool, geom multipolygon, verification_status bool,
        estimated_area numeric, user_id int""") + _TS,
    "building_info.owners": _spec("""
        id int, bin text, owner_name text, owner_gender text, owner_contact bigint,
        nid text""") + _TS,
    "fsm.containments": _spec("""
        id text, type_id int, location text, size numeric, pit_diameter numeric,
        tank_length numeric, tank_width numeric, depth numeric, septic_criteria bool,
        construction_date date, emptied_status bool, last_emptied_date date,
        next_emptying_date date, no_of_times_emptied int, surveyed_at date, toilet_count int,
        distance_closest_well numeric, geom point, user_id int, verification_required bool,
        responsible_bin text""") + _TS,
    "building_info.build_contains": _spec("id int, bin text, containment_id text") + _TS,
    "fsm.build_toilets": _spec("id int, bin text, toilet_id int") + _TS,
}

# Key column of each table (text or integer), used by tests and writers.
KEYS = {
    "fsm.treatment_plants": "id", "auth.users": "id", "layer_info.wards": "ward",
    "layer_info.citypolys": "id", "layer_info.waterbodys": "id", "layer_info.landuses": "id",
    "layer_info.places": "id", "layer_info.low_income_communities": "id",
    "utility_info.roads": "code", "utility_info.drains": "code", "utility_info.sewers": "code",
    "utility_info.water_supplys": "code", "fsm.toilets": "id", "building_info.buildings": "bin",
    "building_info.owners": "id", "fsm.containments": "id", "building_info.build_contains": "id",
    "fsm.build_toilets": "id",
}

LOOKUP_KINDS = {
    "building_info.structure_types": {"id": "int", "type": "text"},
    "building_info.functional_uses": {"id": "int", "name": "text"},
    "building_info.use_categorys": {"id": "int", "name": "text", "functional_use_id": "int"},
    "building_info.sanitation_systems": {"id": "int", "sanitation_system": "text",
                                         "dashboard_display": "bool", "map_display": "bool",
                                         "icon_name": "text"},
    "building_info.water_sources": {"id": "int", "source": "text"},
    "fsm.containment_types": {"id": "int", "type": "text", "sanitation_system_id": "int",
                              "dashboard_display": "bool", "map_display": "text"},
}


def columns(table):
    return [name for name, _ in TABLES[table]]
