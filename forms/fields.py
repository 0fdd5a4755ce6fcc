"""The fields of the IMIS building and containment forms: labels, sections, kinds (EDITING.md §3, §6.1).

Pure data, no QGIS: the form builders, the rules and the commit code all read these tables, so
a label or a limit is written once. Labels are IMIS's own form labels. Lookup *names* are never
here: drop-downs read them from the lookup tables at run time (DATABASE.md §12.1).
"""
from dataclasses import dataclass

BIGINT_MAX = 9223372036854775807
NUMERIC_10_2_MAX = 99999999.99

# Section titles as the IMIS building form names them (partial-form.blade.php).
OWNER = "Owner Information"
BUILDING = "Building Information"
LIC = "LIC Information"
WATER = "Water Source Information"
SWM = "Solid Waste Management Information"
SANITATION = "Sanitation System Information"
CONTAINMENTS = "Containment Information"
BUILDING_TABS = (OWNER, BUILDING, LIC, WATER, SWM, SANITATION, CONTAINMENTS)

# Values IMIS's forms offer for free-text columns (not lookup tables).
OWNER_GENDERS = ("Male", "Female", "Others")
CONTAINMENT_LOCATIONS = ("Inside the house", "Outside the house")

# Joined fields of the building layer: owners and the community-toilet link live in other tables,
# and the building form edits them through editable joins (owners without prefix).
OWNER_COLUMNS = ("owner_name", "owner_gender", "owner_contact")
TOILET_LINK_FIELD = "community_toilet_id"  # fsm.build_toilets.toilet_id joined with prefix "community_"


@dataclass(frozen=True)
class FieldSpec:
    column: str
    label: str
    section: str
    kind: str  # text, int, number, date, bool, choice, lookup, code, readonly, hidden
    required: bool = False  # required in every save (creation and update)
    required_on_create: bool = False
    max_length: int = 0
    maximum: float = 0.0  # 0: no upper bound beyond the type
    whole: bool = False  # numbers that must be whole (counts stored in numeric columns)
    choices: tuple = ()
    help: str = ""


B = FieldSpec
BUILDING_FIELDS = (
    # Owner Information (building_info.owners, one row per BIN)
    B("owner_name", "Owner Name", OWNER, "text", required=True, max_length=255),
    B("owner_gender", "Owner Gender", OWNER, "choice", required=True, choices=OWNER_GENDERS, max_length=255),
    B("owner_contact", "Owner Contact Number", OWNER, "int", required_on_create=True, maximum=BIGINT_MAX),
    # Building Information
    B("bin", "BIN", BUILDING, "readonly", help="Assigned by the database when a new building is saved."),
    B("building_associated_to", "BIN of Main Building", BUILDING, "code",
      help="Empty for a main building; for an annex, the BIN of its main building."),
    B("ward", "Ward Number", BUILDING, "lookup", required=True),
    B("road_code", "Road Code", BUILDING, "code", required=True),
    B("house_number", "House Number", BUILDING, "text",
      help="Unique over all buildings, deleted ones included. Suggested as '<road code> - NNNN'."),
    B("house_locality", "House Locality/Address", BUILDING, "text"),
    B("tax_code", "Tax Code/Holding ID", BUILDING, "text", required=True, max_length=254),
    B("structure_type_id", "Structure Type", BUILDING, "lookup", required=True),
    B("surveyed_date", "Surveyed Date", BUILDING, "date"),
    B("construction_year", "Construction Date", BUILDING, "date", required=True),
    B("floor_count", "Number of Floors", BUILDING, "number", required=True, whole=True, maximum=NUMERIC_10_2_MAX),
    B("functional_use_id", "Functional Use of Building", BUILDING, "lookup", required=True),
    B("use_category_id", "Use Category of Building", BUILDING, "lookup"),
    B("office_business_name", "Office or Business Name", BUILDING, "text", max_length=254),
    B("household_served", "Number of Households", BUILDING, "int", required=True),
    B("population_served", "Population of Building", BUILDING, "int", required=True),
    B("male_population", "Male Population", BUILDING, "int"),
    B("female_population", "Female Population", BUILDING, "int"),
    B("other_population", "Other Population", BUILDING, "int"),
    B("diff_abled_male_pop", "Differently Abled Male Population", BUILDING, "int"),
    B("diff_abled_female_pop", "Differently Abled Female Population", BUILDING, "int"),
    B("diff_abled_others_pop", "Differently Abled Other Population", BUILDING, "int"),
    B("estimated_area", "Estimated Area (m²)", BUILDING, "readonly",
      help="Geodesic area of the footprint, computed when the footprint is saved."),
    # LIC Information
    B("low_income_hh", "Is Low Income House", LIC, "bool", required=True),
    B("lic_id", "LIC Name", LIC, "lookup",
      help="The low-income community the building is located in; empty when it is not in one."),
    # Water Source Information
    B("water_source_id", "Main Drinking Water Source", WATER, "lookup", required=True),
    B("water_customer_id", "Water Supply Customer ID", WATER, "text"),
    B("watersupply_pipe_code", "Water Supply Pipe Line Code", WATER, "code", max_length=255),
    B("well_presence_status", "Well in Premises", WATER, "bool"),
    B("distance_from_well", "Distance of Well from Closest Containment (m)", WATER, "number"),
    # Solid Waste Management Information
    B("swm_customer_id", "SWM Customer ID", SWM, "text"),
    # Sanitation System Information
    B("toilet_status", "Presence of Toilet", SANITATION, "bool", required=True),
    B("sanitation_system_id", "Toilet Connection", SANITATION, "lookup", required=True),
    B(TOILET_LINK_FIELD, "Community Toilet Name", SANITATION, "lookup"),
    B("toilet_count", "Number of Toilets", SANITATION, "int"),
    B("household_with_private_toilet", "Households with Private Toilet", SANITATION, "int"),
    B("population_with_private_toilet", "Population with Private Toilet", SANITATION, "int"),
    B("desludging_vehicle_accessible", "Building Accessible to Desludging Vehicle", SANITATION, "bool"),
    B("sewer_code", "Sewer Code", SANITATION, "code"),
    B("drain_code", "Drain Code", SANITATION, "code"),
    # Not on the IMIS form: kept by the plugin.
    B("verification_status", "Verification Status", BUILDING, "hidden"),
    B("user_id", "Last edited by (IMIS user id)", BUILDING, "hidden"),
    B("created_at", "Created", BUILDING, "hidden"),
    B("updated_at", "Updated", BUILDING, "hidden"),
    B("deleted_at", "Deleted", BUILDING, "hidden"),
)
DEFECATION_PLACE_LABEL = "Defecation Place"  # sanitation_system_id when there is no toilet

C = FieldSpec
CONTAINMENT_FIELDS = (
    C("id", "Containment ID", CONTAINMENTS, "readonly", help="Assigned by the database when a new containment is saved."),
    C("type_id", "Containment Type", CONTAINMENTS, "lookup", required=True),
    C("location", "Containment Location", CONTAINMENTS, "choice", choices=CONTAINMENT_LOCATIONS, max_length=254),
    C("pit_diameter", "Pit Diameter (m)", CONTAINMENTS, "number",
      help="Cylindrical pits. Leave empty for a rectangular pit."),
    C("tank_length", "Tank Length (m)", CONTAINMENTS, "number"),
    C("tank_width", "Tank Width (m)", CONTAINMENTS, "number"),
    C("depth", "Tank/Pit Depth (m)", CONTAINMENTS, "number"),
    C("size", "Containment Volume (m³)", CONTAINMENTS, "number", maximum=NUMERIC_10_2_MAX,
      help="Computed from the dimensions when left empty."),
    C("septic_criteria", "Septic Tank Standard Compliance", CONTAINMENTS, "bool"),
    C("construction_date", "Containment Construction Date", CONTAINMENTS, "date"),
    # Maintained by the emptying workflow (§6.7): shown, never edited.
    C("emptied_status", "Emptied Status", CONTAINMENTS, "readonly"),
    C("last_emptied_date", "Last Emptied Date", CONTAINMENTS, "readonly"),
    C("next_emptying_date", "Next Emptying Date", CONTAINMENTS, "readonly"),
    C("no_of_times_emptied", "Number of Times Emptied", CONTAINMENTS, "readonly"),
    C("surveyed_at", "Surveyed At", CONTAINMENTS, "hidden"),
    C("toilet_count", "Toilet Count", CONTAINMENTS, "hidden"),
    C("distance_closest_well", "Distance to Closest Well", CONTAINMENTS, "hidden"),
    C("verification_required", "Verification Required", CONTAINMENTS, "hidden"),
    C("responsible_bin", "Responsible BIN", CONTAINMENTS, "hidden"),
    C("user_id", "Created by (IMIS user id)", CONTAINMENTS, "hidden"),
    C("created_at", "Created", CONTAINMENTS, "hidden"),
    C("updated_at", "Updated", CONTAINMENTS, "hidden"),
    C("deleted_at", "Deleted", CONTAINMENTS, "hidden"),
)

BUILDING_SPECS = {spec.column: spec for spec in BUILDING_FIELDS}
CONTAINMENT_SPECS = {spec.column: spec for spec in CONTAINMENT_FIELDS}

# Columns of each table the user may set (the rest is derived or system-managed).
BUILDING_EDITABLE = tuple(
    s.column for s in BUILDING_FIELDS
    if s.kind not in ("readonly", "hidden") and s.section != OWNER and s.column != TOILET_LINK_FIELD
)
OWNER_EDITABLE = OWNER_COLUMNS
CONTAINMENT_EDITABLE = tuple(s.column for s in CONTAINMENT_FIELDS if s.kind not in ("readonly", "hidden"))
# Never written by the plugin on update (§6.7, defect E1).
CONTAINMENT_SYSTEM_MANAGED = ("emptied_status", "last_emptied_date", "next_emptying_date", "no_of_times_emptied")


def label(column, table="buildings"):
    specs = BUILDING_SPECS if table == "buildings" else CONTAINMENT_SPECS
    spec = specs.get(column)
    return spec.label if spec else column
