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


# The row both paths return for each live building with a footprint (tuple positions), by BIN:
BIN, FOOTPRINT, SOURCE, RECORDED, POPULATION, RECORDED_STATE, RECORDED_DISTANCE = range(7)
# FOOTPRINT: WKB (PostGIS path) or QgsGeometry (QGIS path), in the buildings layer's CRS.
# SOURCE: water_source_id. RECORDED: watersupply_pipe_code, blank -> None. RECORDED_STATE:
# PIPE_LIVE / PIPE_DELETED / PIPE_MISSING (None without a code). RECORDED_DISTANCE: metres
# to the recorded pipe when it is live. Two dictionaries come with the rows: the nearest live
# pipe within the distance, {BIN: (pipe code, metres)}, and the ward whose polygon contains
# the footprint centroid, {BIN: ward}, for the buildings that have one.


def classify(source, recorded, nearest, distance, recorded_state, recorded_distance, municipal_ids, limit):
    """(connected, status, flag, metres to the recorded pipe) of one building.

    The rules of is_connected, status_class and pipe_flag, in one call per building (this runs
    150,000 times for a city). `recorded` is already trimmed (pipe_code).
    """
    connected = source in municipal_ids or recorded is not None
    if nearest is not None:
        status = CONNECTED if connected else POTENTIAL
    else:
        status = CONNECTED_NO_PIPE if connected else OUT_OF_REACH
    if recorded is None:
        return connected, status, None, recorded_distance
    if recorded == nearest:
        recorded_distance = distance
    if recorded_state == PIPE_LIVE:
        flag = FLAG_FAR if recorded_distance is None or recorded_distance > limit else None
    else:
        flag = FLAG_DELETED if recorded_state == PIPE_DELETED else FLAG_MISSING
    return connected, status, flag, recorded_distance


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

    def add(self, status, population, flag):
        self.buildings += 1
        try:
            population = int(population)
        except (TypeError, ValueError):  # not recorded (or not a number, in a copied table)
            self.population_missing += 1
            population = 0
        self.population += population
        self.counts[status] += 1
        self.populations[status] += population
        if flag is not None:
            self.flags[flag] += 1

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


class Tallies:
    """Counts per ward while the buildings are classified; coverage() gives the result."""

    def __init__(self, ward_keys, wards_given=True):
        self.wards = {key: Tally(f"Ward {key}", key) for key in ward_keys}
        self.outside = Tally(OUTSIDE_LABEL if wards_given else NO_WARDS_LABEL)
        self.wards_given = wards_given

    def tally(self, ward):
        """The Tally a building of `ward` counts in."""
        return self.wards.get(ward, self.outside)

    def coverage(self):
        total = Tally(TOTAL_LABEL)
        for part in list(self.wards.values()) + [self.outside]:
            total.merge(part)
        return Coverage([self.wards[key] for key in sorted(self.wards, key=_ward_order)], self.outside, total,
                        self.wards_given)


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
