"""IMIS summary tables: "Buildings Sheet" (ANALYSES.md 4) and "Containments by Type" (6.7).

Pure Python (no QGIS), so the rules are unit-tested on their own. Row labels come from the
lookup tables passed in; the ten sanitation headers are IMIS's fixed report headers tied to
sanitation-system ids 1-10 (ANALYSES.md 4.3), exactly as IMIS hard-codes them.
"""
from collections import Counter
from dataclasses import dataclass, field

STRUCTURE_TYPE = "Structure Type"
BUILDINGS = "Buildings"
TOTAL = "Total"
# ANALYSES.md 4.3: report headers, verbatim (they differ from the stored labels on purpose).
SANITATION_COLUMNS = (
    (1, "Sewer Network"),
    (2, "Drain Network"),
    (3, "Septic Tank"),
    (4, "Pit / Holding Tank"),
    (5, "Onsite Treatment"),
    (6, "Composting Toilet"),
    (7, "Water Body"),
    (8, "Open Ground"),
    (9, "Community Toilet"),
    (10, "Open Defecation"),
)
BUILDING_HEADERS = (STRUCTURE_TYPE, BUILDINGS) + tuple(header for _, header in SANITATION_COLUMNS)
CONTAINMENT_TYPE = "Containment Type"
CONTAINMENTS = "Containments"
CONTAINMENT_HEADERS = (CONTAINMENT_TYPE, CONTAINMENTS)

_COLUMN_OF = {system_id: index for index, (system_id, _) in enumerate(SANITATION_COLUMNS)}


@dataclass
class SummaryRow:
    label: str
    counts: list  # Buildings, then the ten sanitation columns (building summary) or [count]

    def cells(self):
        return [self.label] + list(self.counts)


@dataclass
class BuildingSummary:
    """The IMIS summary of the buildings of a zone: rows, Total, and who was left out."""

    rows: list
    total: SummaryRow
    in_zone: int
    left_out: list = field(default_factory=list)  # (reason, count), largest first
    notes: list = field(default_factory=list)

    @property
    def counted(self):
        return self.total.counts[0]

    @property
    def left_out_count(self):
        return sum(count for _, count in self.left_out)

    def table(self):
        """Header row, data rows, Total row: the cells of the "Buildings Sheet"."""
        return [list(BUILDING_HEADERS)] + [row.cells() for row in self.rows] + [self.total.cells()]

    def explanation(self):
        """Plain sentences: how many buildings of the zone the summary counts, and why not the rest."""
        lines = [f"{self.in_zone} buildings in the zone; the summary counts {self.counted}."]
        for reason, count in self.left_out:
            lines.append(f"Left out of the summary: {count} building{'s' if count != 1 else ''} with {reason}.")
        lines.extend(self.notes)
        return lines


@dataclass
class ContainmentSummary:
    rows: list
    total: SummaryRow

    def table(self):
        return [list(CONTAINMENT_HEADERS)] + [row.cells() for row in self.rows] + [self.total.cells()]


def _label(value):
    return "" if value is None else str(value)


def _sanitation_column(system_id):
    return _COLUMN_OF.get(system_id)


def _sorted_ids(ids):
    """Known lookup ids in ascending order; the blank row (key None) goes last."""
    return sorted(key for key in ids if key is not None) + ([None] if None in ids else [])


def summarize_buildings(buildings, structure_types, sanitation_systems):
    """The "Buildings Sheet" of the buildings in a zone (the set L(P) of ANALYSES.md 3).

    buildings: iterable of (structure_type_id, sanitation_system_id), one per live building.
    structure_types: {id: label} from building_info.structure_types.
    sanitation_systems: {id: (label, map_display)} from building_info.sanitation_systems.

    A building counts when its sanitation system has map_display true (ANALYSES.md 4.1);
    the others are reported in `left_out` with the reason. Rows: one per structure type that
    occurs, ordered by id, with buildings whose type is NULL or unknown in one blank row last.
    """
    per_type = {}
    left_out = Counter()
    unknown_types = Counter()
    in_zone = 0
    for structure_type_id, sanitation_system_id in buildings:
        in_zone += 1
        if sanitation_system_id is None:
            left_out["no sanitation system recorded"] += 1
            continue
        system = sanitation_systems.get(sanitation_system_id)
        if system is None:
            left_out[f"sanitation system id {sanitation_system_id}, which is not in the lookup table"] += 1
            continue
        system_label, map_display = system
        if map_display is not True:
            left_out[f"sanitation system '{_label(system_label)}' (not shown in IMIS summaries: map_display is "
                     f"{'false' if map_display is False else 'not set'})"] += 1
            continue
        key = structure_type_id
        if structure_type_id is not None and structure_type_id not in structure_types:
            unknown_types[structure_type_id] += 1
            key = None
        counts = per_type.setdefault(key, [0] * (1 + len(SANITATION_COLUMNS)))
        counts[0] += 1
        column = _sanitation_column(sanitation_system_id)
        if column is not None:
            counts[1 + column] += 1

    rows = [
        SummaryRow("" if key is None else _label(structure_types.get(key)), per_type[key])
        for key in _sorted_ids(per_type)
    ]
    total = SummaryRow(TOTAL, [sum(row.counts[i] for row in rows) for i in range(1 + len(SANITATION_COLUMNS))])
    notes = [
        f"{count} counted building{'s' if count != 1 else ''} ha{'ve' if count != 1 else 's'} structure type id "
        f"{type_id}, which is not in the structure types table: shown in the blank row."
        for type_id, count in sorted(unknown_types.items())
    ]
    uncolumned = total.counts[0] - sum(total.counts[1:])
    if uncolumned:
        notes.append(
            f"{uncolumned} counted building{'s' if uncolumned != 1 else ''} use{'s' if uncolumned == 1 else ''} a "
            "sanitation system without a summary column (e.g. Shared Toilet): included in \"Buildings\" only, as in IMIS."
        )
    return BuildingSummary(rows, total, in_zone, sorted(left_out.items(), key=lambda item: (-item[1], item[0])), notes)


def summarize_containments(type_ids, containment_types):
    """The "Containments by Type" table: one row per type that occurs, ordered by id, then Total.

    type_ids: one entry per distinct containment (a containment shared by two buildings
    counts once). Containments without a type, or with a type missing from
    fsm.containment_types, form one blank row last.
    """
    counts = Counter()
    for type_id in type_ids:
        counts[type_id if type_id in containment_types else None] += 1
    rows = [SummaryRow("" if key is None else _label(containment_types.get(key)), [counts[key]])
            for key in _sorted_ids(counts)]
    return ContainmentSummary(rows, SummaryRow(TOTAL, [sum(counts.values())]))
