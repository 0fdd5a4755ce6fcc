"""IMIS workbooks (ANALYSES.md 6): sheet names, exact headers, row builders and the writer.

Header text and order are IMIS's; values follow the plugin rule of 6.6 (booleans Yes/No, NULL
empty, numbers as numbers, dates as dates). Needs openpyxl only when a workbook is written.
"""
import datetime
import decimal
import os

from .summary import BUILDING_HEADERS, CONTAINMENT_HEADERS  # noqa: F401 (sheet headers, re-exported)

BUILDINGS_SHEET = "Buildings Sheet"
BUILDINGS_LIST = "Buildings List"
CONTAINMENTS_BY_TYPE = "Containments by Type"
CONTAINMENT_LIST = "Containment List"
PARAMETERS = "Parameters"

# ANALYSES.md 6.4: (header, source). Sources: a buildings column, "label:<lookup>" for a
# lookup label of the id column, "owner:<column>", or "containment_id".
BUILDINGS_LIST_COLUMNS = (
    ("BIN", "bin"),
    ("House Number", "house_number"),
    ("House Locality/Address", "house_locality"),
    ("Containment ID", "containment_id"),
    ("Tax Code/ Holding ID", "tax_code"),
    ("Ward Number", "ward"),
    ("Road Code", "road_code"),
    ("Drain Code", "drain_code"),
    ("Number of Floors", "floor_count"),
    ("Structure Type", "label:structure_type_id"),
    ("Functional Use of Building", "label:functional_use_id"),
    ("Estimated Area of the Building ( \u33a1 )", "estimated_area"),
    ("BIN of Main Building", "building_associated_to"),
    ("Toilet Connection", "label:sanitation_system_id"),
    ("Presence of Toilet", "toilet_status"),
    ("Number of Toilets", "toilet_count"),
    ("Main Drinking Water Source", "label:water_source_id"),
    ("Well in Premises", "well_presence_status"),
    ("Population with Private Toilet", "population_with_private_toilet"),
    ("Number of Households", "household_served"),
    ("Population of Building", "population_served"),
    ("Owner Name", "owner:owner_name"),
    ("Owner Gender", "owner:owner_gender"),
    ("Owner Contact Number", "owner:owner_contact"),
)
# building_info.buildings columns the Buildings List reads (besides bin).
BUILDING_LIST_FIELDS = tuple(
    dict.fromkeys(
        source.split(":", 1)[-1]
        for _, source in BUILDINGS_LIST_COLUMNS
        if not source.startswith("owner:") and source not in ("bin", "containment_id")
    )
)
OWNER_FIELDS = tuple(source.split(":", 1)[1] for _, source in BUILDINGS_LIST_COLUMNS if source.startswith("owner:"))

# ANALYSES.md 6.5. "Building Served" is filled with the live linked buildings (plugin rule).
CONTAINMENT_LIST_COLUMNS = (
    ("Containment ID", "id"),
    ("BIN", "bin"),
    ("Containment Type", "label:type_id"),
    ("Septic Tank Standard Compliance", "septic_criteria"),
    ("Construction Date", "construction_date"),
    ("Containment Volume (m\u00b3)", "size"),
    ("Containment Location", "location"),
    ("Building Served", "served"),
    ("Next Emptying Date", "next_emptying_date"),
    ("Last Emptied Date", "last_emptied_date"),
    ("Number of Times Emptied", "no_of_times_emptied"),
)
CONTAINMENT_LIST_FIELDS = tuple(
    source.split(":", 1)[-1] for _, source in CONTAINMENT_LIST_COLUMNS if source not in ("id", "bin", "served")
)
DATE_FIELDS = frozenset({"construction_date", "next_emptying_date", "last_emptied_date"})

OPENPYXL_MISSING = (
    "The Excel workbook needs the Python package openpyxl, which is not installed "
    "(Debian/Ubuntu: apt install python3-openpyxl; Windows/macOS: pip install openpyxl in the "
    "QGIS Python). The other outputs were written."
)


class Sheet:
    """One worksheet: a title, a header row and data rows (lists of plain values)."""

    def __init__(self, title, headers, rows):
        self.title = title
        self.headers = list(headers)
        self.rows = rows


def openpyxl_available():
    try:
        import openpyxl  # noqa: F401
    except ImportError:
        return False
    return True


def cell_value(value):
    """A value as IMIS users expect it in a cell: Yes/No, empty for NULL, numbers as numbers."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 2 ** 53:
        return int(value)
    if isinstance(value, (int, float, datetime.date, str)):
        return value
    if hasattr(value, "isNull") and value.isNull():  # a NULL QVariant from a QGIS layer
        return None
    if hasattr(value, "toPyDate"):  # QDate
        return value.toPyDate() if value.isValid() else None
    if hasattr(value, "toPyDateTime"):
        return value.toPyDateTime() if value.isValid() else None
    return str(value)


def as_date(value):
    """ISO text (from JSON) or a QDate as a date; anything else unchanged."""
    if isinstance(value, str) and len(value) >= 10:
        try:
            return datetime.date.fromisoformat(value[:10])
        except ValueError:
            return value
    return value


def _label(lookup, key):
    return None if key is None else lookup.get(key)


def buildings_list_rows(buildings, containment_ids_by_bin, lookups, owners):
    """Rows of "Buildings List": one per (building, live linked containment), by BIN then id.

    buildings: BuildingRecords with `attributes` holding BUILDING_LIST_FIELDS.
    containment_ids_by_bin: {BIN: containment ids}; owners: {BIN: {owner column: value}}.
    """
    label_tables = {
        "structure_type_id": lookups.structure_types,
        "functional_use_id": lookups.functional_uses,
        "sanitation_system_id": lookups.sanitation_labels,
        "water_source_id": lookups.water_sources,
    }
    for record in sorted(buildings, key=lambda record: record.bin):
        attributes = dict(record.attributes)
        attributes.setdefault("structure_type_id", record.structure_type_id)
        attributes.setdefault("sanitation_system_id", record.sanitation_system_id)
        owner = owners.get(record.bin, {})
        for containment_id in sorted(containment_ids_by_bin.get(record.bin, ())) or [None]:
            row = []
            for _, source in BUILDINGS_LIST_COLUMNS:
                if source == "bin":
                    value = record.bin
                elif source == "containment_id":
                    value = containment_id
                elif source.startswith("label:"):
                    column = source[6:]
                    value = _label(label_tables[column], attributes.get(column))
                elif source.startswith("owner:"):
                    value = owner.get(source[6:])
                else:
                    value = attributes.get(source)
                row.append(value)
            yield row


def containment_list_rows(containment_pairs, lookups):
    """Rows of "Containment List" from (ContainmentRecord, BIN or None) pairs, in order."""
    for record, bin_ in containment_pairs:
        row = []
        for _, source in CONTAINMENT_LIST_COLUMNS:
            if source == "id":
                value = record.id
            elif source == "bin":
                value = bin_
            elif source == "served":
                value = record.served
            elif source == "label:type_id":
                value = _label(lookups.containment_types, record.type_id)
            else:
                value = record.attributes.get(source)
                if source in DATE_FIELDS:
                    value = as_date(value)
            row.append(value)
        yield row


def parameters_sheet(items):
    """The "Parameters" sheet from (name, value) pairs."""
    return Sheet(PARAMETERS, ("Parameter", "Value"), [[name, value] for name, value in items])


def _width(values):
    longest = max((len(str(value)) for value in values if value is not None), default=0)
    return max(10, min(60, longest + 2))


def write_workbook(path, sheets, feedback=None):
    """Write `sheets` to an .xlsx file: bold header row, sized columns, frozen header."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    workbook = Workbook(write_only=True)
    bold = Font(bold=True)
    for sheet in sheets:
        rows = [[cell_value(value) for value in row] for row in sheet.rows]
        worksheet = workbook.create_sheet(title=sheet.title)
        sample = rows[:2000]
        for index, header in enumerate(sheet.headers, start=1):
            column = [header] + [row[index - 1] for row in sample if index - 1 < len(row)]
            worksheet.column_dimensions[get_column_letter(index)].width = _width(column)
        worksheet.freeze_panes = "A2"
        header_cells = []
        for header in sheet.headers:
            cell = WriteOnlyCell(worksheet, value=header)
            cell.font = bold
            header_cells.append(cell)
        worksheet.append(header_cells)
        for number, row in enumerate(rows):
            if feedback is not None and number % 5000 == 0 and feedback.isCanceled():
                return False
            worksheet.append(row)
    workbook.save(path)
    return True
