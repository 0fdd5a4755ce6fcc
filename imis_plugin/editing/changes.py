"""What one save asks the database to do: plain data, no QGIS, no connection.

The session (session.py) turns QGIS edit buffers into a ChangeSet; the writer (writer.py)
checks it and writes it in one transaction. Keeping this boundary plain lets the writer run in
a worker thread (it never touches a layer) and lets tests drive the writer directly.
"""
from dataclasses import dataclass, field

TABLES = ("buildings", "owners", "containments", "build_contains", "build_toilets")
WHAT = {
    "buildings": "Building",
    "owners": "Owner of building",
    "containments": "Containment",
    "build_contains": "Link of building",
    "build_toilets": "Community toilet of building",
}


@dataclass
class RowEdit:
    table: str  # one of TABLES
    action: str  # insert | update | delete
    key: object = None  # primary key; a provisional 'new-…' key for inserted buildings/containments
    values: dict = field(default_factory=dict)  # insert: the user's columns; update: changed columns only
    geometry: bytes = None  # WKB in EPSG:4326 when set or changed
    geometry_changed: bool = False
    expected_updated_at: object = None  # updated_at when the user started editing the row
    layer: str = ""  # IMIS layer key the edit came from (to point back at the feature)
    fid: int = None

    @property
    def describe(self):
        key = self.key
        if self.table in ("owners", "build_toilets"):
            key = self.values.get("bin", key)
        elif self.table == "build_contains":
            key = f"{self.values.get('bin', '?')} to containment {self.values.get('containment_id', '?')}"
        if isinstance(key, str) and key.startswith("new-"):
            return f"New {WHAT[self.table].lower()}"
        return f"{WHAT[self.table]} {key}"


@dataclass
class ChangeSet:
    edits: list = field(default_factory=list)

    def add(self, edit):
        self.edits.append(edit)
        return edit

    def of(self, table, action=None):
        return [e for e in self.edits if e.table == table and (action is None or e.action == action)]

    def __bool__(self):
        return bool(self.edits)

    def touches_containments(self):
        return bool(self.of("containments"))

    def count(self, table):
        return len(self.of(table))


@dataclass
class FeatureProblem:
    """Why a save failed, pointing at the feature and field the user must fix."""

    what: str  # e.g. "Building B000123", "New containment"
    message: str
    field: str = None  # column
    label: str = None  # IMIS label of the field
    layer: str = ""
    fid: int = None

    def text(self):
        where = f"{self.what}, {self.label or self.field}" if (self.label or self.field) else self.what
        return f"{where}: {self.message}"


class SaveFailed(Exception):
    """Nothing was written; `problems` say which feature and field, and why."""

    def __init__(self, problems, headline="Nothing was saved."):
        self.problems = list(problems)
        self.headline = headline
        super().__init__(self.text())

    def text(self):
        lines = [self.headline] + [f"• {p.text()}" for p in self.problems]
        return "\n".join(lines)


@dataclass
class SaveResult:
    keys: dict = field(default_factory=dict)  # provisional key -> BIN / containment id
    notes: list = field(default_factory=list)  # things the editor should know (not errors)
    revisions: int = 0
    counts: dict = field(default_factory=dict)
    seconds: float = 0.0
    containment_write_seconds: float = 0.0  # statements on fsm.containments (they fire IMIS's trigger)
    trigger_seconds: float = None  # the trigger functions' own time, when track_functions is on
