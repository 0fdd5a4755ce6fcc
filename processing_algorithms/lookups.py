"""Lookup labels read from the same IMIS database or GeoPackage as the analysed layers.

DATABASE.md 12.1: labels differ between deployments, so nothing here knows a label. Ids are
used only where IMIS itself relies on them (the summary's sanitation columns).
"""
from dataclasses import dataclass, field

from .errors import AnalysisError

# name -> (PostGIS schema, table, id column, label column, extra columns)
TABLES = {
    "structure_types": ("building_info", "structure_types", "id", "type", ()),
    "sanitation_systems": ("building_info", "sanitation_systems", "id", "sanitation_system", ("map_display",)),
    "functional_uses": ("building_info", "functional_uses", "id", "name", ()),
    "water_sources": ("building_info", "water_sources", "id", "source", ()),
    "containment_types": ("fsm", "containment_types", "id", "type", ()),
}
# Without these the summary cannot be built; the others only label list columns.
REQUIRED = ("structure_types", "sanitation_systems")


@dataclass
class Lookups:
    structure_types: dict = field(default_factory=dict)  # id -> label
    sanitation_systems: dict = field(default_factory=dict)  # id -> (label, map_display)
    functional_uses: dict = field(default_factory=dict)
    water_sources: dict = field(default_factory=dict)
    containment_types: dict = field(default_factory=dict)
    source: str = ""  # where they were read, for the Parameters sheet
    missing: list = field(default_factory=list)  # optional tables that were not found

    def missing_messages(self):
        return [f"The lookup table {name} was not found: its labels are left empty." for name in self.missing]

    @property
    def sanitation_labels(self):
        return {key: label for key, (label, _) in self.sanitation_systems.items()}

    def set_rows(self, name, rows):
        """rows: (id, label[, extra...]) tuples as read from table `name`."""
        if name == "sanitation_systems":
            self.sanitation_systems = {row[0]: (row[1], _as_bool(row[2])) for row in rows if row[0] is not None}
        else:
            setattr(self, name, {row[0]: row[1] for row in rows if row[0] is not None})


def _as_bool(value):
    """map_display as stored: boolean in PostGIS, 0/1 or text in a GeoPackage."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return bool(value)
    text = str(value).strip().lower()
    if text in ("true", "t", "1", "yes"):
        return True
    if text in ("false", "f", "0", "no"):
        return False
    return None


def _columns(name):
    _, _, key, label, extra = TABLES[name]
    return (key, label) + extra


def read_tables(fetch, where, names=tuple(TABLES)):
    """Lookups through fetch(name, columns) -> rows (tuples) or None when the table is absent."""
    lookups = Lookups(source=where)
    for name in names:
        rows = fetch(name, _columns(name))
        if rows is None:
            _missing(lookups, name, name)
            continue
        lookups.set_rows(name, [tuple(_plain(value) for value in row) for row in rows])
    return lookups


def read_postgres(cursor, names=tuple(TABLES)):
    """Lookups from the IMIS tables of the database behind `cursor` (in its transaction)."""
    from psycopg2 import sql

    def fetch(name, columns):
        schema, table = TABLES[name][:2]
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", (f"{schema}.{table}",))
        if not cursor.fetchone()[0]:
            return None
        cursor.execute(sql.SQL("SELECT {} FROM {}.{} ORDER BY 1").format(
            sql.SQL(", ").join(sql.Identifier(column) for column in columns),
            sql.Identifier(schema), sql.Identifier(table)))
        return cursor.fetchall()

    return read_tables(fetch, "IMIS database", names)


def _plain(value):
    if hasattr(value, "isNull") and value.isNull():
        return None
    return value


def _missing(lookups, name, where):
    if name in REQUIRED:
        raise AnalysisError(
            f"The lookup table {where} was not found next to the analysed layers; the IMIS summary needs "
            "its labels. Use layers of an IMIS database or GeoPackage, or load the IMIS layers into the project."
        )
    lookups.missing.append(name)
