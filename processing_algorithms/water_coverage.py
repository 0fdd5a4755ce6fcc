"""Water supply coverage rules: connection, status class, pipe-code checks, ward tallies.

Pure Python (no QGIS), so the rules are unit-tested on their own. Both execution paths
(water_supply_postgis, water_supply_qgis) produce SupplyRecords; everything the outputs show
is derived here from them.

Not an IMIS analysis: IMIS v1.0.0 has no water supply coverage tool (ANALYSES.md 7.14, D12).
"""
from dataclasses import dataclass, field

# Status classes, in report order: (key, label). Labels are what the outputs show.
CONNECTED = "connected"
CONNECTED_NO_PIPE = "connected_no_pipe"
POTENTIAL = "potential"
OUT_OF_REACH = "out_of_reach"
STATUS_CLASSES = (
    (CONNECTED, "connected, pipe within reach"),
    (CONNECTED_NO_PIPE, "connected, no pipe within reach"),
    (POTENTIAL, "not connected, pipe within reach"),
    (OUT_OF_REACH, "not connected, out of reach"),
)
STATUS_LABELS = dict(STATUS_CLASSES)
# Short names for layer fields (n_<key>, pct_<key>, pop_<key>).
STATUS_KEYS = tuple(key for key, _ in STATUS_CLASSES)

# Pipe-code checks of a building's recorded watersupply_pipe_code.
FLAG_MISSING = "missing pipe"  # no pipe (live or deleted) has this code
FLAG_DELETED = "deleted pipe"  # the pipe with this code is soft-deleted
FLAG_FAR = "pipe farther than the distance"  # a live pipe, but beyond the distance
FLAGS = (FLAG_MISSING, FLAG_DELETED, FLAG_FAR)

# Recorded pipe states as the paths report them.
PIPE_LIVE = "live"
PIPE_DELETED = "deleted"
PIPE_MISSING = "missing"

MUNICIPAL_WORD = "municipal"


def municipal_source_ids(water_sources):
    """Ids of the water sources whose name contains "municipal" (any case).

    DATABASE.md 12.1: the municipal/public supply is matched by name, never by id (the data
    dictionary and the seeders disagree on its id).
    """
    return frozenset(key for key, label in water_sources.items()
                     if label is not None and MUNICIPAL_WORD in str(label).casefold())


def pipe_code(value):
    """A recorded pipe code as text, or None when it is empty or blank."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def is_connected(water_source_id, recorded_code, municipal_ids):
    """Connected: main water source is the municipal/public supply, or a pipe code is recorded."""
    return water_source_id in municipal_ids or pipe_code(recorded_code) is not None


def status_class(connected, within_reach):
    if connected:
        return CONNECTED if within_reach else CONNECTED_NO_PIPE
    return POTENTIAL if within_reach else OUT_OF_REACH


def pipe_flag(recorded_code, recorded_state, recorded_distance, distance_limit):
    """The check of a recorded pipe code: None (none recorded, or fine) or one of FLAGS.

    recorded_state: PIPE_LIVE, PIPE_DELETED or PIPE_MISSING (None when no code is recorded).
    recorded_distance: metres from the footprint to the recorded live pipe.
    """
    if pipe_code(recorded_code) is None:
        return None
    if recorded_state == PIPE_MISSING or recorded_state is None:
        return FLAG_MISSING
    if recorded_state == PIPE_DELETED:
        return FLAG_DELETED
    if recorded_distance is None or recorded_distance > distance_limit:
        return FLAG_FAR
    return None


@dataclass
class SupplyRecord:
    """One live building with a footprint, as both paths report it."""

    bin: str
    nearest_pipe: object  # code of the nearest live pipe within the distance, else None
    distance: float  # metres to that pipe, else None
    water_source_id: object
    recorded_code: object  # watersupply_pipe_code as stored (blank -> None)
    population: object  # population_served (None when not recorded)
    ward: object = None  # ward whose polygon contains the footprint centroid, else None
    recorded_state: str = None  # PIPE_LIVE / PIPE_DELETED / PIPE_MISSING, None without a code
    recorded_distance: float = None  # metres to the recorded live pipe (None when not live)
    geometry: object = None  # QgsGeometry in the buildings layer's CRS
    # Filled by classify():
    connected: bool = None
    status: str = None
    flag: str = None

    @property
    def within_reach(self):
        return self.nearest_pipe is not None


def classify(records, municipal_ids, distance_limit):
    """Set connected, status and flag on every record (in place); returns the records."""
    for record in records:
        record.recorded_code = pipe_code(record.recorded_code)
        record.connected = is_connected(record.water_source_id, record.recorded_code, municipal_ids)
        record.status = status_class(record.connected, record.within_reach)
        if record.recorded_code is not None and record.recorded_code == record.nearest_pipe:
            record.recorded_distance = record.distance
        record.flag = pipe_flag(record.recorded_code, record.recorded_state, record.recorded_distance,
                                distance_limit)
    return records


def percent(part, whole):
    """Percentage rounded to 2 decimals; 0 for an empty whole (no division by zero)."""
    return round(100.0 * part / whole, 2) if whole else 0.0


@dataclass
class Tally:
    """Counts of one ward (or of the buildings outside every ward, or of the city)."""

    label: str
    ward: object = None
    buildings: int = 0
    population: int = 0
    population_missing: int = 0  # buildings without a recorded population
    counts: dict = field(default_factory=lambda: {key: 0 for key in STATUS_KEYS})
    populations: dict = field(default_factory=lambda: {key: 0 for key in STATUS_KEYS})
    flags: dict = field(default_factory=lambda: {flag: 0 for flag in FLAGS})

    def add(self, record):
        self.buildings += 1
        population = record.population
        if population is None:
            self.population_missing += 1
            population = 0
        population = int(population)
        self.population += population
        self.counts[record.status] += 1
        self.populations[record.status] += population
        if record.flag is not None:
            self.flags[record.flag] += 1

    def merge(self, other):
        self.buildings += other.buildings
        self.population += other.population
        self.population_missing += other.population_missing
        for key in STATUS_KEYS:
            self.counts[key] += other.counts[key]
            self.populations[key] += other.populations[key]
        for flag in FLAGS:
            self.flags[flag] += other.flags[flag]

    @property
    def connected(self):
        return self.counts[CONNECTED] + self.counts[CONNECTED_NO_PIPE]

    @property
    def flagged(self):
        return sum(self.flags.values())

    def percentages(self):
        return {key: percent(self.counts[key], self.buildings) for key in STATUS_KEYS}


@dataclass
class Coverage:
    wards: list  # Tally per ward, in ward order (wards without buildings have zeros)
    outside: Tally  # buildings whose centroid lies in no ward
    total: Tally  # the whole city (every classified building)
    wards_given: bool = True

    def rows(self):
        """Tallies in table order: wards, outside every ward (when any), city total (only it without wards)."""
        if not self.wards_given:
            return [self.total]
        rows = list(self.wards)
        if self.outside.buildings:
            rows.append(self.outside)
        rows.append(self.total)
        return rows


OUTSIDE_LABEL = "Outside every ward"
NO_WARDS_LABEL = "No ward layer given"
TOTAL_LABEL = "City total"


def tally(records, ward_keys, wards_given=True):
    """Coverage per ward: every ward in `ward_keys` gets a row, also without buildings."""
    wards = {key: Tally(f"Ward {key}", key) for key in ward_keys}
    outside = Tally(OUTSIDE_LABEL if wards_given else NO_WARDS_LABEL)
    for record in records:
        wards.get(record.ward, outside).add(record)
    total = Tally(TOTAL_LABEL)
    for part in list(wards.values()) + [outside]:
        total.merge(part)
    return Coverage([wards[key] for key in sorted(wards, key=_ward_order)], outside, total, wards_given)


def _ward_order(key):
    """Ward numbers numerically; any other key after them, as text."""
    return (0, key, "") if isinstance(key, (int, float)) else (1, 0, str(key))


SUMMARY_HEADERS = (
    ("Ward", "label"),
    ("Buildings", "buildings"),
    ("Population", "population"),
) + tuple((label[0].upper() + label[1:], "n:" + key) for key, label in STATUS_CLASSES) + tuple(
    (f"% {label}", "pct:" + key) for key, label in STATUS_CLASSES) + (
    ("Population connected", "pop_connected"),
    ("Pipe code flags", "flagged"),
)


def summary_table(coverage):
    """Header row and rows of the ward summary (ward rows, outside every ward, city total)."""
    rows = []
    for item in coverage.rows():
        percentages = item.percentages()
        row = []
        for _, source in SUMMARY_HEADERS:
            if source == "label":
                row.append(item.label)
            elif source.startswith("n:"):
                row.append(item.counts[source[2:]])
            elif source.startswith("pct:"):
                row.append(percentages[source[4:]])
            elif source == "pop_connected":
                row.append(item.populations[CONNECTED] + item.populations[CONNECTED_NO_PIPE])
            else:
                row.append(getattr(item, source))
        rows.append(row)
    return [[header for header, _ in SUMMARY_HEADERS]] + rows
