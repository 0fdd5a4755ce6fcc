"""IMIS's rules for buildings and containments, as pure functions (EDITING.md §3, §4, §6, §7).

One implementation serves the form (field constraints and visibility call into it through the
expression functions of forms/expressions.py) and the commit (imis_plugin/editing/writer.py
checks every saved record with it), so the form and the database can never disagree.

Records are plain dicts: column -> Python value (None for NULL, datetime.date for dates). Facts
that depend on the deployment (which water source is the municipal supply, which containment
type belongs to which system, lookup names for messages) come in a `Facts` object, read from the
lookup tables; only the ids IMIS itself hard-codes are constants here (DATABASE.md §12.1).
"""
import datetime
import math
import re
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from .fields import BUILDING_SPECS, CONTAINMENT_SPECS, DEFECATION_PLACE_LABEL, TOILET_LINK_FIELD

# Sanitation-system ids IMIS hard-codes (EDITING.md §1).
SEWER, DRAIN, SEPTIC, PIT = 1, 2, 3, 4
SHARED_SEPTIC = 11
COMMUNITY_TOILET, OPEN_DEFECATION, SHARED_TOILET = 9, 10, 12
WITH_TOILET = frozenset(range(1, 9)) | {SHARED_SEPTIC}
NO_TOILET = frozenset({COMMUNITY_TOILET, OPEN_DEFECATION, SHARED_TOILET})
ONSITE = frozenset({SEPTIC, PIT})
SEWER_SHOWN = frozenset({SEWER, SEPTIC, PIT, SHARED_SEPTIC})
DRAIN_SHOWN = frozenset({DRAIN, SEPTIC, PIT, SHARED_SEPTIC})
# Containment-type ids IMIS hard-codes (DATABASE.md §12.1).
SEWER_TYPES = frozenset({1, 13})
DRAIN_TYPES = frozenset({2, 14})
RESIDENTIAL = 1  # functional use id IMIS tests to hide the business name

KEY_PATTERN = re.compile(r"^([BC])([0-9]{6})$")
LAST_KEY_NUMBER = 999999  # owners.bin is varchar(7): B999999 is the last BIN that fits
PROVISIONAL_PREFIX = "new-"  # keys of unsaved features; the commit replaces them


@dataclass(frozen=True)
class Problem:
    field: str
    message: str


@dataclass
class Facts:
    """What the rules need to know about one IMIS deployment (from its lookup tables)."""

    today: datetime.date
    municipal_sources: frozenset = frozenset()
    use_category_use: dict = field(default_factory=dict)  # use_category id -> functional_use id
    type_system: dict = field(default_factory=dict)  # containment type id -> sanitation_system id
    system_names: dict = field(default_factory=dict)
    type_names: dict = field(default_factory=dict)
    ids_ok: bool = True  # IMIS's hard-coded ids found with their meaning (schema_check)

    def system(self, system_id):
        return self.system_names.get(system_id, f"sanitation system {system_id}")

    def type_name(self, type_id):
        return self.type_names.get(type_id, f"containment type {type_id}")

    def systems(self, ids):
        return ", ".join(f"'{self.system(i)}'" for i in sorted(ids))


# ---------------------------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------------------------

def blank(value):
    return value is None or (isinstance(value, str) and not value.strip())


def _number(value):
    """Decimal of a number given as int/float/Decimal/str; raises ValueError when it is none."""
    if isinstance(value, bool):
        raise ValueError(value)
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ValueError(value) from None
    if not number.is_finite():
        raise ValueError(value)
    return number


def round2(value):
    """Round half away from zero to 2 decimals, as a numeric(10,2) column stores it."""
    if value is None:
        return None
    return _number(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def is_provisional(key):
    return isinstance(key, str) and key.startswith(PROVISIONAL_PREFIX)


def key_number(key):
    match = KEY_PATTERN.match(key or "")
    return int(match.group(2)) if match else None


def next_key(prefix, highest_number):
    """Next BIN or containment id after the highest number in use (soft-deleted rows included)."""
    number = (highest_number or 0) + 1
    if number > LAST_KEY_NUMBER:
        what = "BIN" if prefix == "B" else "containment id"
        raise ValueError(f"No {what} left: {prefix}{LAST_KEY_NUMBER:06d} is the last one IMIS can store.")
    return f"{prefix}{number:06d}"


def next_keys(prefix, highest_number, count):
    keys, number = [], highest_number or 0
    for _ in range(count):
        key = next_key(prefix, number)
        keys.append(key)
        number += 1
    return keys


def house_number_suggestion(road_code, live_buildings_on_road):
    """IMIS pre-fills '<road_code> - NNNN', NNNN = live buildings on that road + 1 (§4.3)."""
    if blank(road_code):
        return None
    return f"{road_code} - {live_buildings_on_road + 1:04d}"


# ---------------------------------------------------------------------------------------------
# Field checks shared by both forms
# ---------------------------------------------------------------------------------------------

def _field_problems(spec, value, facts, required):
    if blank(value):
        if required:
            return [Problem(spec.column, f"{spec.label} is required.")]
        return []
    kind = spec.kind
    if kind in ("int", "number"):
        try:
            number = _number(value)
        except ValueError:
            return [Problem(spec.column, f"{spec.label} must be a number, not '{value}'.")]
        if number < 0:
            return [Problem(spec.column, f"{spec.label} cannot be negative.")]
        if (kind == "int" or spec.whole) and number != number.to_integral_value():
            return [Problem(spec.column, f"{spec.label} must be a whole number.")]
        limit = spec.maximum or (2147483647 if kind == "int" else 0)
        if limit and number > Decimal(str(limit)):
            return [Problem(spec.column, f"{spec.label} is too large (at most {limit}).")]
    elif kind == "date":
        if not isinstance(value, datetime.date):
            return [Problem(spec.column, f"{spec.label} must be a date.")]
        day = value.date() if isinstance(value, datetime.datetime) else value
        if day > facts.today:
            return [Problem(spec.column, f"{spec.label} cannot be after today ({facts.today.isoformat()}).")]
    elif kind == "choice":
        if value not in spec.choices:
            allowed = " / ".join(spec.choices)
            return [Problem(spec.column, f"{spec.label} must be one of {allowed}, not '{value}'.")]
    elif kind == "bool":
        if not isinstance(value, bool):
            return [Problem(spec.column, f"{spec.label} must be Yes or No.")]
    if spec.max_length and isinstance(value, str) and len(value) > spec.max_length:
        return [Problem(spec.column, f"{spec.label} is too long ({len(value)} characters; at most {spec.max_length}).")]
    return []


# ---------------------------------------------------------------------------------------------
# Building
# ---------------------------------------------------------------------------------------------

def sanitation_system(rec):
    value = rec.get("sanitation_system_id")
    return int(value) if not blank(value) else None


def _municipal(rec, facts):
    source = rec.get("water_source_id")
    return not blank(source) and int(source) in facts.municipal_sources


def building_field_shown(column, rec, facts):
    """Whether IMIS shows the field for this record (§3.1 'shown when')."""
    toilet = rec.get("toilet_status")
    system = sanitation_system(rec)
    use = rec.get("functional_use_id")
    if column == "toilet_connection":  # the group asking the Toilet Connection (sanitation_system_id)
        return toilet is True
    if column == "defecation_place":  # the group asking the Defecation Place (sanitation_system_id)
        return toilet is False
    if column == "use_category_id":
        return not blank(use)
    if column == "office_business_name":
        return not blank(use) and int(use) != RESIDENTIAL
    if column in ("water_customer_id", "watersupply_pipe_code"):
        return _municipal(rec, facts)
    if column == "distance_from_well":
        return rec.get("well_presence_status") is True
    if column in ("toilet_count", "household_with_private_toilet", "population_with_private_toilet"):
        return toilet is True
    if column == TOILET_LINK_FIELD:
        return toilet is False and system == COMMUNITY_TOILET
    if column == "desludging_vehicle_accessible":
        return toilet is True and system in ONSITE
    if column == "sewer_code":
        return toilet is True and system in SEWER_SHOWN
    if column == "drain_code":
        return toilet is True and system in DRAIN_SHOWN
    return True


def building_field_required(column, rec, facts, creating):
    """Whether the field must be filled for this record (§3.1 'Plugin' column)."""
    spec = BUILDING_SPECS[column]
    if spec.required or (creating and spec.required_on_create):
        return True
    if not building_field_shown(column, rec, facts):
        return False
    system = sanitation_system(rec)
    if column == "toilet_count":
        return True
    if column == TOILET_LINK_FIELD:
        return True
    if column == "sewer_code":
        return system == SEWER
    if column == "drain_code":
        return system == DRAIN
    if column == "watersupply_pipe_code":
        return True
    return False


def building_required_reason(column, rec, facts):
    """Why a conditionally required field is required, for the message."""
    return {
        "owner_contact": "for a new building",
        "toilet_count": "when the building has a toilet",
        TOILET_LINK_FIELD: f"for the {DEFECATION_PLACE_LABEL} '{facts.system(COMMUNITY_TOILET)}'",
        "sewer_code": f"for the Toilet Connection '{facts.system(SEWER)}'",
        "drain_code": f"for the Toilet Connection '{facts.system(DRAIN)}'",
        "watersupply_pipe_code": "for the municipal water supply",
    }.get(column)


def building_problems(rec, facts, creating, columns=None):
    """Problems of a building record (owner and community-toilet fields included).

    `columns` limits the result to those fields (the form asks one field at a time).
    """
    problems = []
    wanted = set(columns) if columns else None
    for column, spec in BUILDING_SPECS.items():
        if spec.kind in ("readonly", "hidden") or (wanted and column not in wanted):
            continue
        if not building_field_shown(column, rec, facts):
            continue
        required = building_field_required(column, rec, facts, creating)
        found = _field_problems(spec, rec.get(column), facts, required)
        reason = building_required_reason(column, rec, facts)
        if found and reason and blank(rec.get(column)):
            found = [Problem(column, f"{spec.label} is required {reason}.")]
        problems.extend(found)
    problems.extend(p for p in _building_cross_problems(rec, facts) if not wanted or p.field in wanted)
    return problems


def _building_cross_problems(rec, facts):
    problems = []
    toilet = rec.get("toilet_status")
    system = sanitation_system(rec)
    if facts.ids_ok and system is not None and isinstance(toilet, bool):
        if toilet and system not in WITH_TOILET:
            problems.append(Problem(
                "sanitation_system_id",
                f"With a toilet, the Toilet Connection must be one of {facts.systems(WITH_TOILET)}; "
                f"'{facts.system(system)}' is a {DEFECATION_PLACE_LABEL}.",
            ))
        elif not toilet and system not in NO_TOILET:
            problems.append(Problem(
                "sanitation_system_id",
                f"Without a toilet, the {DEFECATION_PLACE_LABEL} must be one of {facts.systems(NO_TOILET)}.",
            ))
    category, use = rec.get("use_category_id"), rec.get("functional_use_id")
    if not blank(category) and not blank(use) and facts.use_category_use:
        if facts.use_category_use.get(int(category)) != int(use):
            problems.append(Problem(
                "use_category_id",
                "Use Category of Building does not belong to the chosen Functional Use of Building.",
            ))
    main, own = rec.get("building_associated_to"), rec.get("bin")
    if not blank(main) and main == own:
        problems.append(Problem("building_associated_to", "BIN of Main Building cannot be the building itself."))
    return problems


def normalise_building(rec, facts):
    """Values IMIS stores only under a condition (§4.3, §5, R9, R10): {column: None or value} to apply."""
    out = {}
    for column, value in rec.items():
        if isinstance(value, str) and not value.strip() and column in BUILDING_SPECS:
            out[column] = None  # '' would count as a value (and collide in the unique house number)
    use = rec.get("functional_use_id")
    if blank(use) or int(use) == RESIDENTIAL:
        out["office_business_name"] = None
    if not _municipal(rec, facts):
        out["water_customer_id"] = None
        out["watersupply_pipe_code"] = None
    if rec.get("well_presence_status") is not True:
        out["distance_from_well"] = None
    toilet, system = rec.get("toilet_status"), sanitation_system(rec)
    if toilet is False:
        for column in ("toilet_count", "household_with_private_toilet", "population_with_private_toilet",
                       "sewer_code", "drain_code"):
            out[column] = None
    if system == SEWER:
        out["drain_code"] = None
    elif system == DRAIN:
        out["sewer_code"] = None
    elif system is not None and system not in ONSITE and system != SHARED_SEPTIC:
        out["sewer_code"] = None
        out["drain_code"] = None
    return {column: value for column, value in out.items() if rec.get(column) != value}


def link_problems(rec, linked, facts, label_of=None):
    """R2-R7 for a building and its live linked containments [(containment_id, type_id)].

    Returns (problems, code changes {column: None}) once 11 has been replaced by the host's system.
    """
    label_of = label_of or (lambda cid: cid)
    system = sanitation_system(rec)
    problems, changes = [], {}
    if system is None or not facts.ids_ok:
        return problems, changes
    label = "Toilet Connection"
    if system in ONSITE:
        if not linked:
            problems.append(Problem(
                "sanitation_system_id",
                f"{label} '{facts.system(system)}' needs at least one containment: add one under "
                f"{'Containment Information'}, or choose another {label}.",
            ))
            return problems, changes
        for containment_id, type_id in linked:
            type_system = facts.type_system.get(type_id)
            if type_system != system:
                problems.append(Problem(
                    "sanitation_system_id",
                    f"Sanitation System does not match with existing containment data: containment "
                    f"{label_of(containment_id)} is a '{facts.type_name(type_id)}', which belongs to "
                    f"'{facts.system(type_system)}', not '{facts.system(system)}'.",
                ))
        types = {type_id for _, type_id in linked}
        for column, kinds, what in (("sewer_code", SEWER_TYPES, "Sewer Code"), ("drain_code", DRAIN_TYPES, "Drain Code")):
            needing = [cid for cid, t in linked if t in kinds]
            if types & kinds:
                if blank(rec.get(column)):
                    problems.append(Problem(
                        column,
                        f"{what} is required: containment {label_of(needing[0])} is a "
                        f"'{facts.type_name(next(t for c, t in linked if c == needing[0]))}'.",
                    ))
            elif not blank(rec.get(column)):
                changes[column] = None
    elif linked:
        names = ", ".join(label_of(cid) for cid, _ in linked)
        where = facts.system(system)
        problems.append(Problem(
            "sanitation_system_id",
            f"'{where}' cannot have containments, but {names} {'is' if len(linked) == 1 else 'are'} still "
            f"linked to this building: unlink or delete {'it' if len(linked) == 1 else 'them'} first "
            f"(Containment Information), or choose a septic tank or pit connection.",
        ))
    return problems, changes


# ---------------------------------------------------------------------------------------------
# Containment
# ---------------------------------------------------------------------------------------------

def _type(rec):
    value = rec.get("type_id")
    return int(value) if not blank(value) else None


def containment_kind(rec, facts):
    """'septic', 'pit-rectangular', 'pit-cylindrical' or None (type unknown)."""
    system = facts.type_system.get(_type(rec))
    if system == SEPTIC:
        return "septic"
    if system == PIT:
        return "pit-rectangular" if not blank(rec.get("tank_length")) else "pit-cylindrical"
    return None


def containment_field_shown(column, rec, facts):
    kind = containment_kind(rec, facts)
    if column == "pit_diameter":
        return kind is not None and kind.startswith("pit") and blank(rec.get("tank_length"))
    if column in ("tank_length", "tank_width"):
        return kind is not None and (kind == "septic" or blank(rec.get("pit_diameter")))
    if column == "depth":
        return kind is not None
    if column == "septic_criteria":
        return kind == "septic"
    return True


def containment_volume(rec, facts):
    """Volume in m³ from the dimensions (§6.3), rounded to 2 decimals; None when a dimension is missing."""
    kind = containment_kind(rec, facts)
    try:
        depth = _number(rec["depth"]) if not blank(rec.get("depth")) else None
        if kind in ("septic", "pit-rectangular"):
            length, width = rec.get("tank_length"), rec.get("tank_width")
            if depth is None or blank(length) or blank(width):
                return None
            return round2(_number(length) * _number(width) * depth)
        if kind == "pit-cylindrical":
            diameter = rec.get("pit_diameter")
            if depth is None or blank(diameter):
                return None
            radius = float(_number(diameter)) / 2.0
            return round2(repr(math.pi * radius * radius * float(depth)))
    except ValueError:
        return None
    return None


def containment_problems(rec, facts, creating, building_system=None, columns=None):
    """Problems of a containment record; `building_system` restricts the type to that system (§6.1)."""
    problems = []
    wanted = set(columns) if columns else None
    volume_known = not blank(rec.get("size")) or containment_volume(rec, facts) is not None
    for column, spec in CONTAINMENT_SPECS.items():
        if spec.kind in ("readonly", "hidden") or (wanted and column not in wanted):
            continue
        if not containment_field_shown(column, rec, facts):
            continue
        required = spec.required or (column == "size" and not volume_known)
        found = _field_problems(spec, rec.get(column), facts, required)
        if column == "size" and found and blank(rec.get("size")):
            found = [Problem("size", "Containment Volume (m³) is required: enter it, or the dimensions to compute it.")]
        problems.extend(found)
    type_id = _type(rec)
    if type_id is not None and (not wanted or "type_id" in wanted):
        type_system = facts.type_system.get(type_id)
        if type_system not in ONSITE and facts.type_system:
            problems.append(Problem("type_id", f"Containment Type '{facts.type_name(type_id)}' is not a septic tank or pit type."))
        elif building_system in ONSITE and facts.ids_ok and type_system != building_system:
            problems.append(Problem(
                "type_id",
                f"Containment Type must be a type of the building's sanitation system '{facts.system(building_system)}'; "
                f"'{facts.type_name(type_id)}' belongs to '{facts.system(type_system)}'.",
            ))
    if (containment_kind(rec, facts) or "").startswith("pit") and not blank(rec.get("pit_diameter")) \
            and not blank(rec.get("tank_length")) and (not wanted or "pit_diameter" in wanted):
        problems.append(Problem(
            "pit_diameter",
            "Give either the Pit Diameter (cylindrical pit) or the Tank Length and Width (rectangular pit), not both.",
        ))
    return problems


def normalise_containment(rec, facts):
    """Dimensions stored per case and the computed volume (§6.3): {column: value} to apply."""
    out = {}
    for column, value in rec.items():
        if isinstance(value, str) and not value.strip() and column in CONTAINMENT_SPECS:
            out[column] = None
    kind = containment_kind(rec, facts)
    if kind in ("septic", "pit-rectangular"):
        out["pit_diameter"] = None
    elif kind == "pit-cylindrical":
        out["tank_length"] = None
        out["tank_width"] = None
    if kind != "septic" and kind is not None:
        out["septic_criteria"] = None
    if blank(rec.get("size")):
        merged = dict(rec, **out)
        volume = containment_volume(merged, facts)
        if volume is not None:
            out["size"] = volume
    return {column: value for column, value in out.items() if rec.get(column) != value}


def propagate_type(rec, type_id, facts):
    """Building columns a containment of `type_id` imposes on a linked building (§6.6)."""
    changes = {}
    system = facts.type_system.get(type_id)
    if system in ONSITE and sanitation_system(rec) != system:
        changes["sanitation_system_id"] = system
    if rec.get("toilet_status") is not True:
        changes["toilet_status"] = True
    return changes


# Fields each field's rules read: the form re-checks a field when one of these changes.
DEPENDS_ON = {
    ("buildings", "use_category_id"): ("functional_use_id",),
    ("buildings", "office_business_name"): ("functional_use_id",),
    ("buildings", "water_customer_id"): ("water_source_id",),
    ("buildings", "watersupply_pipe_code"): ("water_source_id",),
    ("buildings", "distance_from_well"): ("well_presence_status",),
    ("buildings", "toilet_count"): ("toilet_status",),
    ("buildings", "toilet_connection"): ("toilet_status",),
    ("buildings", "defecation_place"): ("toilet_status",),
    ("buildings", "household_with_private_toilet"): ("toilet_status",),
    ("buildings", "population_with_private_toilet"): ("toilet_status",),
    ("buildings", TOILET_LINK_FIELD): ("toilet_status", "sanitation_system_id"),
    ("buildings", "desludging_vehicle_accessible"): ("toilet_status", "sanitation_system_id"),
    ("buildings", "sewer_code"): ("toilet_status", "sanitation_system_id"),
    ("buildings", "drain_code"): ("toilet_status", "sanitation_system_id"),
    ("buildings", "sanitation_system_id"): ("toilet_status",),
    ("buildings", "toilet_status"): ("sanitation_system_id",),
    ("buildings", "building_associated_to"): ("bin",),
    ("containments", "pit_diameter"): ("type_id", "tank_length"),
    ("containments", "tank_length"): ("type_id", "pit_diameter"),
    ("containments", "tank_width"): ("type_id", "pit_diameter", "tank_length"),
    ("containments", "depth"): ("type_id",),
    ("containments", "septic_criteria"): ("type_id",),
    ("containments", "size"): ("type_id", "tank_length", "tank_width", "depth", "pit_diameter"),
}

# The conditional part of each rule, in words, for the text QGIS shows beside the field.
RULE_NOTES = {
    ("buildings", "building_associated_to"): "Empty for a main building; otherwise a live main building other than itself.",
    ("buildings", "house_number"): "Unique over all buildings, deleted ones included.",
    ("buildings", "use_category_id"): "Must belong to the Functional Use of Building.",
    ("buildings", "watersupply_pipe_code"): "Required for the municipal water supply.",
    ("buildings", "toilet_count"): "Required when the building has a toilet.",
    ("buildings", "sanitation_system_id"): "With a toilet: a Toilet Connection; without: a Defecation Place.",
    ("buildings", TOILET_LINK_FIELD): "Required when the Defecation Place is a community toilet.",
    ("buildings", "sewer_code"): "Required for a sewer connection, and for a containment connected to the sewer.",
    ("buildings", "drain_code"): "Required for a drain connection, and for a containment connected to a drain.",
    ("containments", "type_id"): "A type of the building's sanitation system.",
    ("containments", "size"): "Required: entered, or computed from the dimensions.",
    ("containments", "pit_diameter"): "Cylindrical pits only; not together with a tank length.",
}
