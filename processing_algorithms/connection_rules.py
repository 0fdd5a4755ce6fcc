"""Connection candidates: which network a line layer is, who is already connected, who is a candidate.

Pure Python (no QGIS), so the rules are unit-tested on their own.

"Already connected to a network of this kind" uses the ids IMIS itself hard-codes
(DATABASE.md 12.1): sanitation system 1 is the sewer network and 2 the drain network;
containment types 1 and 13 discharge to a sewer, 2 and 14 to a drain. Labels are only ever
read from the lookup tables; an id missing from its table disables that part of the rule
(with a warning) instead of guessing.
"""
import re
from collections import Counter
from dataclasses import dataclass, field

# Where a line layer's code may be: IMIS's own column first, then the building-side names.
CODE_FIELDS = ("code", "drain_code", "sewer_code")


@dataclass(frozen=True)
class NetworkKind:
    key: str  # "drain" or "sewer"
    noun: str  # for messages: "drain"
    title: str  # for headers: "Drain"
    building_code_field: str  # the buildings column naming the line a building is connected to
    sanitation_ids: tuple  # sanitation systems meaning "connected to this network" (IMIS ids)
    containment_type_ids: tuple  # containment types discharging to this network (IMIS ids)
    xlsx_name: str  # workbook file name in IMIS's style (ANALYSES.md 6.1)


DRAIN = NetworkKind("drain", "drain", "Drain", "drain_code", (2,), (2, 14),
                    "Drain Potential buildings Buffer Summary Information.xlsx")
SEWER = NetworkKind("sewer", "sewer", "Sewer", "sewer_code", (1,), (1, 13),
                    "Sewer Potential buildings Buffer Summary Information.xlsx")
KINDS = {DRAIN.key: DRAIN, SEWER.key: SEWER}
UNKNOWN_XLSX_NAME = "Network Potential buildings Buffer Summary Information.xlsx"


def kind_from_names(names):
    """The kind named by the first of `names` (table, layer name...) that names exactly one kind."""
    for name in names:
        text = (name or "").lower()
        found = [kind for kind in (DRAIN, SEWER) if kind.key in text]
        if len(found) == 1:
            return found[0]
    return None


def kind_from_fields(field_names):
    """The kind given away by the code column (drain_code / sewer_code) when the layer has no `code`."""
    names = {name.lower() for name in field_names}
    if "code" in names:
        return None
    found = [kind for kind in (DRAIN, SEWER) if kind.building_code_field in names]
    return found[0] if len(found) == 1 else None


def code_field(field_names, kind=None):
    """The field holding the line codes, or None when it cannot be identified."""
    by_lower = {name.lower(): name for name in field_names}
    if "code" in by_lower:
        return by_lower["code"]
    preferred = [kind.building_code_field] if kind is not None else []
    for name in preferred + [candidate.building_code_field for candidate in (DRAIN, SEWER)]:
        if name in by_lower:
            return by_lower[name]
    return None


def code_field_problem(layer_name, field_names):
    shown = ", ".join(field_names) or "none"
    return (f"The network layer '{layer_name}' is neither the IMIS drains nor the sewers table, and none of its "
            f"fields holds the line codes: expected a field named 'code' (as in utility_info.drains and "
            f"utility_info.sewers), 'drain_code' or 'sewer_code'. Its fields: {shown}.")


# -- sanitation systems by name ------------------------------------------------------------

def _key(text):
    """Names compare without case and without any white space ("Pit/ Holding Tank" = "pit/holding tank")."""
    return re.sub(r"\s+", "", str(text)).casefold()


def requested_names(value):
    """The pieces of a SANITATION_FILTER value: a list as given, or text split at ';' and line breaks."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        items = [str(item) for item in value]
    else:
        items = re.split(r"[;\n]", str(value))
    return [item.strip() for item in items if item.strip()]


def resolve_names(value, labels):
    """({id, ...}, [unknown pieces]) for the sanitation systems named in `value`.

    labels: {id: stored label}. Names may also be separated by commas, as long as the
    pieces make up stored names (stored labels may themselves contain commas).
    """
    by_key = {}
    for system_id, label in labels.items():
        if label is not None:
            by_key.setdefault(_key(label), set()).add(system_id)
    ids, unknown = set(), []
    for piece in requested_names(value):
        if _key(piece) in by_key:
            ids |= by_key[_key(piece)]
            continue
        parts = [part.strip() for part in piece.split(",")]
        start = 0
        while start < len(parts):
            match = None
            for end in range(len(parts), start, -1):
                if _key(",".join(parts[start:end])) in by_key:
                    match = end
                    break
            if match is None:
                if parts[start]:
                    unknown.append(parts[start])
                start += 1
            else:
                ids |= by_key[_key(",".join(parts[start:match]))]
                start = match
    return ids, unknown


def unknown_names_problem(unknown, labels):
    stored = "; ".join(str(label) for _, label in sorted(labels.items()) if label is not None) or "none"
    return (f"Unknown sanitation system {', '.join(repr(name) for name in unknown)} in the sanitation filter. "
            f"Stored sanitation systems (separate names with ';'): {stored}.")


# -- already connected ------------------------------------------------------------------------

CODE, SANITATION, CONTAINMENT = "network code set", "sanitation system", "containment type"


def _set(value):
    return value is not None and str(value).strip() != ""


class ConnectionRule:
    """When a building counts as already connected to a network of the analysed kind."""

    def __init__(self, kind, sanitation_labels, containment_type_labels, network_codes=(), with_containments=True):
        self.kind = kind
        self.sanitation_labels = sanitation_labels
        self.containment_type_labels = containment_type_labels
        self.with_containments = with_containments
        self.warnings = []
        if kind is None:
            # Without a kind, the only evidence is a building naming one of this layer's lines.
            self.code_fields = tuple(candidate.building_code_field for candidate in (DRAIN, SEWER))
            self.network_codes = {str(code).strip() for code in network_codes if _set(code)}
            self.sanitation_ids = ()
            self.containment_type_ids = ()
            return
        self.code_fields = (kind.building_code_field,)
        self.network_codes = None
        self.sanitation_ids = tuple(i for i in kind.sanitation_ids if i in sanitation_labels)
        for missing in sorted(set(kind.sanitation_ids) - set(self.sanitation_ids)):
            self.warnings.append(f"Sanitation system id {missing} (IMIS's {kind.noun} network) is not in the "
                                 f"sanitation systems table: that part of the 'already connected' rule is off.")
        self.containment_type_ids = ()
        if with_containments:
            self.containment_type_ids = tuple(i for i in kind.containment_type_ids if i in containment_type_labels)
            for missing in sorted(set(kind.containment_type_ids) - set(self.containment_type_ids)):
                self.warnings.append(f"Containment type id {missing} (IMIS: discharges to a {kind.noun}) is not in "
                                     f"the containment types table: that part of the 'already connected' rule is "
                                     f"off.")

    def reasons(self, attributes, sanitation_system_id, containments=()):
        """Why a building is already connected: [(category, text)], empty when it is not.

        Categories: CODE, SANITATION, CONTAINMENT. attributes: {buildings column: value};
        containments: (id, type_id) of its live linked containments.
        """
        found = []
        for name in self.code_fields:
            value = attributes.get(name)
            if not _set(value):
                continue
            if self.network_codes is None or str(value).strip() in self.network_codes:
                found.append((CODE, f"{name} {str(value).strip()}"))
        if sanitation_system_id in self.sanitation_ids:
            found.append((SANITATION, f"sanitation system '{self.sanitation_labels.get(sanitation_system_id)}'"))
        for containment_id, type_id in containments:
            if type_id in self.containment_type_ids:
                found.append((CONTAINMENT, f"containment {containment_id} '{self.containment_type_labels.get(type_id)}'"))
        return found

    def description(self):
        """The rule in words, with the labels of this database (for the log and Parameters sheet)."""
        if self.kind is None:
            return ("the layer is neither drains nor sewers, so a building counts as connected when its drain_code "
                    "or sewer_code is the code of a line of this layer")
        parts = [f"its {self.kind.building_code_field} is set"]
        if self.sanitation_ids:
            parts.append("its sanitation system is " + " or ".join(
                f"'{self.sanitation_labels.get(i)}' (id {i})" for i in self.sanitation_ids))
        if self.containment_type_ids:
            parts.append("a live linked containment is of type " + " or ".join(
                f"'{self.containment_type_labels.get(i)}' (id {i})" for i in self.containment_type_ids))
        elif not self.with_containments:
            parts.append("(containment types not checked: no containment layer given)")
        return f"a building counts as already connected to a {self.kind.noun} when " + ", or ".join(parts)


# -- the candidates ---------------------------------------------------------------------------

@dataclass
class Candidates:
    chosen: list  # (BuildingRecord, [(category, text) why it is connected]) in the order given
    near: int = 0  # live buildings within the distance
    connected: int = 0  # left out as already connected
    connected_by: Counter = field(default_factory=Counter)  # category -> buildings
    filtered: int = 0  # left out by the sanitation filter


def choose(buildings, rule, exclude_connected, sanitation_ids=None, containments_by_bin=None):
    """The candidates among `buildings` (BuildingRecords within the distance).

    sanitation_ids: None for any sanitation system, else the ids that make a candidate
    (buildings without one are then left out). containments_by_bin: {BIN: [(id, type_id)]}.
    """
    containments_by_bin = containments_by_bin or {}
    result = Candidates([])
    for record in buildings:
        result.near += 1
        reasons = rule.reasons(record.attributes, record.sanitation_system_id,
                               containments_by_bin.get(record.bin, ()))
        if reasons and exclude_connected:
            result.connected += 1
            for category in dict.fromkeys(category for category, _ in reasons):
                result.connected_by[category] += 1
            continue
        if sanitation_ids is not None and record.sanitation_system_id not in sanitation_ids:
            result.filtered += 1
            continue
        result.chosen.append((record, reasons))
    return result
