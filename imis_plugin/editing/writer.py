"""Write one ChangeSet in one transaction, as IMIS's server would (EDITING.md §4-§10).

validate -> derive -> write rows -> audit rows -> commit. Any problem, a constraint or trigger
error, a lost connection or a cancel rolls the whole transaction back: the database then holds
nothing of the save. No QGIS here: the writer only needs a psycopg2 connection, so it may run in
a worker thread and tests can drive it directly.

Ids: the next BIN / containment id is the highest `B`/`C` + 6 digits over all rows (soft-deleted
included) + 1, read under a transaction-level advisory lock, so two plugin editors saving at the
same moment wait for each other instead of taking the same number.
"""
import time

import psycopg2
from psycopg2 import errors, sql

from ...forms import rules
from ...forms.fields import (
    BUILDING_EDITABLE,
    BUILDING_SPECS,
    CONTAINMENT_EDITABLE,
    CONTAINMENT_SPECS,
    CONTAINMENT_SYSTEM_MANAGED,
    OWNER_COLUMNS,
    TOILET_LINK_FIELD,
)
from ..schema_check import lookup_problems
from . import audit
from .changes import WHAT, FeatureProblem, SaveFailed, SaveResult

QUALIFIED = {
    "buildings": ("building_info", "buildings"),
    "owners": ("building_info", "owners"),
    "containments": ("fsm", "containments"),
    "build_contains": ("building_info", "build_contains"),
    "build_toilets": ("fsm", "build_toilets"),
}
KEY = {"buildings": "bin", "owners": "id", "containments": "id", "build_contains": "id", "build_toilets": "id"}
# pg_advisory_xact_lock(class, id): one lock per generated key kind.
LOCK_CLASS = 0x494D4953  # "IMIS"
LOCK_IDS = {"buildings": 1, "containments": 2}
KEY_PREFIX = {"buildings": "B", "containments": "C"}
LIVE_REFERENCES = (
    # column, table, key column, label of the referenced thing
    ("road_code", "utility_info.roads", "code", "road"),
    ("sewer_code", "utility_info.sewers", "code", "sewer"),
    ("drain_code", "utility_info.drains", "code", "drain"),
    ("watersupply_pipe_code", "utility_info.water_supplys", "code", "water-supply pipe"),
    ("lic_id", "layer_info.low_income_communities", "id", "low-income community"),
    ("ward", "layer_info.wards", "ward", "ward"),
)
COMMUNITY_TOILET_TYPE = "Community Toilet"  # fsm.toilets.type value the IMIS form lists (§3.1)


def table_name(table):
    schema, name = QUALIFIED[table]
    return sql.Identifier(schema, name)


def load_facts(cur, timezone):
    """Facts for forms.rules, read from the lookup tables; `today` in the IMIS time zone."""
    cur.execute("SELECT (now() AT TIME ZONE %s)::date", (timezone,))
    today = cur.fetchone()[0]
    cur.execute("SELECT id, sanitation_system FROM building_info.sanitation_systems")
    systems = dict(cur.fetchall())
    cur.execute("SELECT id, type, sanitation_system_id FROM fsm.containment_types")
    types = cur.fetchall()
    cur.execute("SELECT id FROM building_info.water_sources WHERE source ILIKE %s", ("%municipal%",))
    municipal = frozenset(row[0] for row in cur.fetchall())
    cur.execute("SELECT id, functional_use_id FROM building_info.use_categorys")
    categories = dict(cur.fetchall())
    return rules.Facts(
        today=today,
        municipal_sources=municipal,
        use_category_use=categories,
        type_system={row[0]: row[2] for row in types},
        system_names=systems,
        type_names={row[0]: row[1] for row in types},
        ids_ok=not lookup_problems(cur),
    )


def save(conn, changes, user_id, timezone, progress=None):
    """Write `changes` for IMIS user `user_id`; returns a SaveResult or raises SaveFailed.

    `progress(stage)` is called between stages (it may cancel by calling conn.cancel()).
    """
    started = time.perf_counter()
    job = _Save(conn, changes, user_id, timezone, progress)
    try:
        result = job.run()
        job.step("Committing")
        job.context = None
        job.committing = True
        conn.commit()
    except SaveFailed:
        _rollback(conn)
        raise
    except psycopg2.Error as error:
        _rollback(conn)
        raise SaveFailed([job.db_problem(error)]) from None
    except BaseException:
        _rollback(conn)
        raise
    result.seconds = time.perf_counter() - started
    return result


def _rollback(conn):
    try:
        if not conn.closed:
            conn.rollback()
    except psycopg2.Error:
        pass  # a lost connection rolls back on the server by itself


class _Save:
    def __init__(self, conn, changes, user_id, timezone, progress):
        self.conn = conn
        self.cur = conn.cursor()
        self.changes = changes
        self.user_id = user_id
        self.timezone = timezone
        self.progress = progress
        self.context = None  # the edit being written, to name it when the database refuses
        self.committing = False
        self.problems = []
        self.result = SaveResult()
        self._columns = {}
        self.before = {}  # (table, key) -> {column: (value, text)} before this save
        self.created, self.deleted = [], []  # (table, key)
        self.keymap = {}  # provisional -> real key
        self.buildings = {}  # bin -> final record (rules input)
        self.building_edit = {}  # bin -> RowEdit of the building (if any)
        self.explicit_system = set()  # bins whose sanitation system the user set in this save
        self.affected = set()  # bins whose links/system must be re-checked at the end
        self.new_links = {}  # containment key -> [bins] linked in this save

    # -- helpers --------------------------------------------------------------------------
    def step(self, stage):
        if self.progress is not None:
            self.progress(stage)

    def fail_if_problems(self):
        if self.problems:
            raise SaveFailed(self.problems)

    def problem(self, edit, message, column=None, table=None):
        table = table or (edit.table if edit else "buildings")
        specs = CONTAINMENT_SPECS if table == "containments" else BUILDING_SPECS
        label = specs[column].label if column in specs else column
        self.problems.append(FeatureProblem(
            what=self.describe(edit) if edit else "Save", message=message, field=column, label=label,
            layer=edit.layer if edit else "", fid=edit.fid if edit else None,
        ))

    def describe(self, edit):
        key = edit.key
        if edit.table in ("owners", "build_toilets", "build_contains"):
            return edit.describe
        if rules.is_provisional(key):
            real = self.keymap.get(key)
            what = WHAT[edit.table]
            if edit.table == "buildings" and edit.values.get("house_number"):
                return f"New building (house number {edit.values['house_number']})"
            return f"New {what.lower()}" + (f" {real}" if real else "")
        return f"{WHAT[edit.table]} {key}"

    def columns(self, table):
        if table not in self._columns:
            schema, name = QUALIFIED[table]
            self.cur.execute(
                "SELECT a.attname FROM pg_attribute a WHERE a.attrelid = %s::regclass AND a.attnum > 0 "
                "AND NOT a.attisdropped ORDER BY a.attnum",
                (f"{schema}.{name}",),
            )
            self._columns[table] = [row[0] for row in self.cur.fetchall()]
        return self._columns[table]

    def fetch(self, table, column, values, lock=False):
        """{key: {column: (value, text)}} of the rows whose `column` is in `values`."""
        values = [v for v in values if v is not None]
        if not values:
            return {}
        cols = self.columns(table)
        query = sql.SQL("SELECT {typed}, {texts} FROM {table} t WHERE t.{col} = ANY(%s) ORDER BY t.{key}{lock}").format(
            typed=sql.SQL(", ").join(sql.Identifier("t", c) for c in cols),
            texts=sql.SQL(", ").join(sql.SQL("{}::text").format(sql.Identifier("t", c)) for c in cols),
            table=table_name(table), col=sql.Identifier(column), key=sql.Identifier(KEY[table]),
            lock=sql.SQL(" FOR UPDATE") if lock else sql.SQL(""),
        )
        self.cur.execute(query, (list(values),))
        n = len(cols)
        out = {}
        for row in self.cur.fetchall():
            image = {c: (row[i], row[n + i]) for i, c in enumerate(cols)}
            out[image[KEY[table]][0]] = image
        return out

    def remember(self, table, images):
        for key, image in images.items():
            self.before.setdefault((table, key), image)

    def real(self, key):
        return self.keymap.get(key, key)

    # -- the save ---------------------------------------------------------------------------
    def run(self):
        self.step("Checking")
        self.now = self.start()
        self.facts = load_facts(self.cur, self.timezone)
        self.classify()
        self.lock_and_check_versions()
        self.fail_if_problems()
        self.check_buildings()
        self.check_containments()
        self.check_references()
        self.fail_if_problems()
        self.allocate_keys()
        self.step("Writing buildings")
        self.write_buildings()
        self.write_owners()
        self.step("Writing containments")
        self.write_containments()
        self.write_links()
        self.write_community_toilets()
        self.delete_buildings()
        self.delete_containments()
        self.fail_if_problems()
        self.propagate()
        self.step("Checking consistency")
        self.check_consistency()
        self.fail_if_problems()
        self.step("Writing history (revisions)")
        self.write_revisions()
        self.result.keys = dict(self.keymap)
        self.result.trigger_seconds = self.trigger_seconds()
        return self.result

    def start(self):
        try:
            self.cur.execute("SELECT date_trunc('second', now() AT TIME ZONE %s)", (self.timezone,))
        except (errors.InvalidParameterValue, errors.InvalidTextRepresentation):
            self.conn.rollback()
            raise SaveFailed([FeatureProblem(
                "Settings", f"The IMIS time zone '{self.timezone}' is not a time zone PostgreSQL knows "
                "(IMIS menu > IMIS database settings; e.g. Asia/Kathmandu or Asia/Dhaka).")]) from None
        now = self.cur.fetchone()[0]
        if self.user_id is None:
            raise SaveFailed([FeatureProblem(
                "Settings", "No IMIS user is chosen, so edits cannot be attributed: choose one in "
                "IMIS menu > IMIS database settings.")])
        self.cur.execute("SELECT 1 FROM auth.users WHERE id = %s AND deleted_at IS NULL", (self.user_id,))
        if self.cur.fetchone() is None:
            raise SaveFailed([FeatureProblem(
                "Settings", f"The IMIS user chosen in the settings (id {self.user_id}) does not exist or is "
                "deleted in this database: choose another in IMIS menu > IMIS database settings.")])
        return now

    def classify(self):
        ch = self.changes
        self.b_ins = ch.of("buildings", "insert")
        self.b_upd = ch.of("buildings", "update")
        self.b_del = ch.of("buildings", "delete")
        self.c_ins = ch.of("containments", "insert")
        self.c_upd = ch.of("containments", "update")
        self.c_del = ch.of("containments", "delete")
        self.l_ins = ch.of("build_contains", "insert")
        self.l_del = ch.of("build_contains", "delete")
        self.owner_edits = [e for e in ch.of("owners") if e.action in ("insert", "update")]
        self.toilet_edits = ch.of("build_toilets")
        for edit in self.owner_edits + self.toilet_edits:
            if edit.values.get("bin") is None:
                self.problem(edit, "has no BIN.")
        for edit in ch.of("owners", "delete"):
            self.problem(edit, "Owners cannot be deleted (IMIS keeps one owner row per building).")
        for edit in self.b_upd + self.c_upd:
            editable = BUILDING_EDITABLE if edit.table == "buildings" else CONTAINMENT_EDITABLE
            for column in edit.values:
                if column not in editable:
                    if edit.table == "containments" and column in CONTAINMENT_SYSTEM_MANAGED:
                        msg = "is maintained by IMIS's emptying workflow and cannot be edited here."
                    else:
                        msg = "cannot be edited (IMIS maintains it)."
                    self.problem(edit, msg, column)
        for edit in self.c_upd:
            if edit.geometry_changed and edit.geometry is None:
                self.problem(edit, "A containment needs its point; move it instead of removing it.", "geom")

    def lock_and_check_versions(self):
        bins = {e.key for e in self.b_upd + self.b_del}
        bins |= {e.values.get("bin") for e in self.owner_edits + self.toilet_edits}
        bins = {b for b in bins if b is not None and not rules.is_provisional(b)}
        images = self.fetch("buildings", "bin", sorted(bins), lock=True)
        self.remember("buildings", images)
        ids = sorted({e.key for e in self.c_upd + self.c_del})
        cimages = self.fetch("containments", "id", ids, lock=True)
        self.remember("containments", cimages)
        for edit in self.b_upd + self.b_del + self.c_upd + self.c_del:
            image = (images if edit.table == "buildings" else cimages).get(edit.key)
            if image is None or image["deleted_at"][0] is not None:
                self.problem(edit, "no longer exists in IMIS (deleted meanwhile). Reload the layer.")
                continue
            expected = edit.expected_updated_at
            if expected is not None and image["updated_at"][0] != expected:
                self.problem(edit, f"was changed in IMIS at {image['updated_at'][1]}, after you started editing "
                                   "it. Discard your edits of it, reload the layer and edit it again.")
        for edit in self.owner_edits + self.toilet_edits:
            bin_ = edit.values.get("bin")
            if bin_ is not None and not rules.is_provisional(bin_) and (
                    bin_ not in images or images[bin_]["deleted_at"][0] is not None):
                self.problem(edit, f"refers to building {bin_}, which does not exist (or is deleted) in IMIS.")
        links = self.fetch("build_contains", "id", sorted(e.key for e in self.l_del), lock=True)
        self.links_before = links
        for edit in self.l_del:
            if edit.key in links:
                edit.values.update(bin=links[edit.key]["bin"][0], containment_id=links[edit.key]["containment_id"][0])
            if edit.key not in links or links[edit.key]["deleted_at"][0] is not None:
                self.problem(edit, "is already unlinked in IMIS. Reload the layers.")

    # -- rules on the submitted records ------------------------------------------------------
    def check_buildings(self):
        owners_by_bin = {}
        for edit in self.owner_edits:
            owners_by_bin.setdefault(edit.values["bin"], {}).update(
                {c: v for c, v in edit.values.items() if c in OWNER_COLUMNS})
        toilet_by_bin = {}
        for edit in self.toilet_edits:
            toilet_by_bin[edit.values["bin"]] = None if edit.action == "delete" else edit.values.get("toilet_id")
        existing = [b for (t, b) in self.before if t == "buildings"]
        owner_rows = self.fetch("owners", "bin", existing)
        owner_rows = {image["bin"][0]: image for image in owner_rows.values()}
        self.owner_rows = owner_rows
        self.cur.execute(
            "SELECT DISTINCT ON (bin) bin, toilet_id FROM fsm.build_toilets WHERE bin = ANY(%s) "
            "AND deleted_at IS NULL ORDER BY bin, id", (existing,))
        live_toilets = dict(self.cur.fetchall())
        deleting = {e.key for e in self.b_del}
        edits = {e.key: e for e in self.b_ins + self.b_upd}
        for bin_ in set(existing) - deleting - set(edits):
            # owner or community toilet changed without a building column
            edits[bin_] = None
        for bin_, edit in edits.items():
            creating = edit is not None and edit.action == "insert"
            if creating:
                rec = {c: None for c in BUILDING_EDITABLE}
                rec.update(edit.values)
                rec["bin"] = bin_
                if edit.geometry is None:
                    self.problem(edit, "A new building needs its footprint: draw it on the map.", "geom")
            else:
                rec = {c: v for c, (v, _) in self.before[("buildings", bin_)].items()}
                if edit is not None:
                    rec.update(edit.values)
            owner = owner_rows.get(bin_)
            for column in OWNER_COLUMNS:
                rec[column] = owner[column][0] if owner else None
            rec.update(owners_by_bin.get(bin_, {}))
            rec[TOILET_LINK_FIELD] = toilet_by_bin.get(bin_, live_toilets.get(bin_))
            edit_for_messages = edit or self.stub("buildings", bin_)
            for p in rules.building_problems(rec, self.facts, creating):
                self.problem(edit_for_messages, p.message, p.field)
            rec.update(rules.normalise_building(rec, self.facts))
            self.buildings[bin_] = rec
            self.building_edit[bin_] = edit_for_messages
            if edit is not None and "sanitation_system_id" in edit.values:
                self.explicit_system.add(bin_)
            self.affected.add(bin_)

    def stub(self, table, key):
        from .changes import RowEdit

        return RowEdit(table=table, action="update", key=key, layer=table)

    def check_containments(self):
        for edit in self.l_ins:
            self.new_links.setdefault(edit.values.get("containment_id"), []).append(edit.values.get("bin"))
        self.containments = {}
        for edit in self.c_ins + self.c_upd:
            creating = edit.action == "insert"
            if creating:
                rec = {c: None for c in CONTAINMENT_EDITABLE}
                rec.update(edit.values)
            else:
                rec = {c: v for c, (v, _) in self.before[("containments", edit.key)].items()}
                rec.update(edit.values)
            system = None
            for bin_ in self.new_links.get(edit.key, []):
                if bin_ in self.buildings:
                    system = rules.sanitation_system(self.buildings[bin_])
            for p in rules.containment_problems(rec, self.facts, creating, building_system=system):
                self.problem(edit, p.message, p.field, table="containments")
            rec.update(rules.normalise_containment(rec, self.facts))
            self.containments[edit.key] = rec
            if creating and edit.geometry is None and not self.new_links.get(edit.key):
                self.problem(edit, "A new containment needs a place: add it from its building's form "
                                   "(it is then placed at the footprint's centroid) or draw its point.", "geom",
                             table="containments")

    # -- keys and references ------------------------------------------------------------------
    def allocate_keys(self):
        for table, inserts in (("buildings", self.b_ins), ("containments", self.c_ins)):
            if not inserts:
                continue
            for edit in inserts:
                if not rules.is_provisional(edit.key):
                    self.problem(edit, f"New rows get their {KEY[table].upper()} from IMIS's numbering; "
                                       f"'{edit.key}' cannot be chosen by hand.", KEY[table], table=table)
            self.fail_if_problems()
            # Waits for any other plugin editor allocating the same kind of key until it commits,
            # then reads the maximum with a fresh snapshot (READ COMMITTED) that includes its rows.
            self.cur.execute("SELECT pg_advisory_xact_lock(%s, %s)", (LOCK_CLASS, LOCK_IDS[table]))
            prefix = KEY_PREFIX[table]
            query = sql.SQL("SELECT {key} FROM {table} WHERE {key} ~ %s ORDER BY {key} DESC LIMIT 1").format(
                key=sql.Identifier(KEY[table]), table=table_name(table))
            # 'B' + 6 digits sort as text exactly as numerically, so the primary-key index finds the
            # maximum; soft-deleted rows are included on purpose (ids are never reused).
            self.cur.execute(query, (f"^{prefix}[0-9]{{6}}$",))
            row = self.cur.fetchone()
            try:
                keys = rules.next_keys(prefix, rules.key_number(row[0]) if row else 0, len(inserts))
            except ValueError as error:
                raise SaveFailed([FeatureProblem(self.describe(inserts[0]), str(error))]) from None
            for edit, key in zip(inserts, keys):
                self.keymap[edit.key] = key
        for provisional, key in self.keymap.items():
            if provisional in self.buildings:
                self.buildings[key] = self.buildings.pop(provisional)
                self.buildings[key]["bin"] = key
                self.building_edit[key] = self.building_edit.pop(provisional)
                if provisional in self.explicit_system:
                    self.explicit_system.add(key)
                self.affected.discard(provisional)
                self.affected.add(key)
            if provisional in self.containments:
                self.containments[key] = self.containments.pop(provisional)
            if provisional in self.geometries:
                self.geometries[key] = self.geometries.pop(provisional)
        self.new_links = {self.real(c): [self.real(b) for b in bins] for c, bins in self.new_links.items()}
        for edit in self.owner_edits + self.toilet_edits + self.l_ins:
            for column in ("bin", "containment_id"):
                if column in edit.values:
                    edit.values[column] = self.real(edit.values[column])
        for rec in self.buildings.values():
            if rec.get("building_associated_to") in self.keymap:
                rec["building_associated_to"] = self.keymap[rec["building_associated_to"]]
        for table, bins in (("owners", self.owner_edits), ("build_toilets", self.toilet_edits)):
            for edit in bins:
                if rules.is_provisional(edit.values.get("bin")):
                    self.problem(edit, "belongs to a new building that is not part of this save.")
        for edit in self.l_ins:
            for column in ("bin", "containment_id"):
                if rules.is_provisional(edit.values.get(column)):
                    self.problem(edit, f"refers to a new {'building' if column == 'bin' else 'containment'} "
                                       "that is not part of this save.")
        self.fail_if_problems()

    def check_references(self):
        seen = {}
        for bin_, rec in self.buildings.items():
            edit = self.building_edit[bin_]
            before = self.before.get(("buildings", bin_))
            changed = {c for c in rec if before is None or c not in before or not audit.same_value(before[c][0], rec[c])}
            number = rec.get("house_number")
            if number is not None and "house_number" in changed:
                if number in seen:
                    self.problem(edit, f"House Number '{number}' is also given to {seen[number]} in this save.",
                                 "house_number")
                seen[number] = self.describe(edit)
                self.cur.execute(
                    "SELECT bin, deleted_at IS NOT NULL FROM building_info.buildings WHERE house_number = %s "
                    "AND bin <> %s LIMIT 1", (number, bin_))
                row = self.cur.fetchone()
                if row:
                    self.problem(edit, f"House Number '{number}' is already used by building {row[0]}"
                                       f"{' (deleted; IMIS never reuses house numbers)' if row[1] else ''}.",
                                 "house_number")
            for column, table, key, what in LIVE_REFERENCES:
                value = rec.get(column)
                if value is None or column not in changed:
                    continue
                self.cur.execute(
                    sql.SQL("SELECT deleted_at IS NULL FROM {} WHERE {} = %s").format(
                        sql.Identifier(*table.split(".")), sql.Identifier(key)), (value,))
                row = self.cur.fetchone()
                if row is None:
                    self.problem(edit, f"There is no {what} '{value}' in IMIS.", column)
                elif not row[0]:
                    self.problem(edit, f"The {what} '{value}' is deleted in IMIS; choose a live one.", column)
            main = rec.get("building_associated_to")
            if main is not None and "building_associated_to" in changed and main != bin_:
                if main in self.buildings:
                    ok = self.buildings[main].get("building_associated_to") is None
                else:
                    self.cur.execute(
                        "SELECT building_associated_to IS NULL FROM building_info.buildings "
                        "WHERE bin = %s AND deleted_at IS NULL", (main,))
                    row = self.cur.fetchone()
                    ok = bool(row and row[0])
                if not ok:
                    self.problem(edit, f"'{main}' is not a live main building (a main building has no "
                                       "BIN of Main Building itself).", "building_associated_to")
            toilet = rec.get(TOILET_LINK_FIELD)
            if rules.sanitation_system(rec) == rules.COMMUNITY_TOILET and toilet is not None and (
                    TOILET_LINK_FIELD in changed or "sanitation_system_id" in changed):
                self.cur.execute(
                    "SELECT 1 FROM fsm.toilets WHERE id = %s AND deleted_at IS NULL AND type = %s AND status",
                    (toilet, COMMUNITY_TOILET_TYPE))
                if self.cur.fetchone() is None:
                    self.problem(edit, "The chosen toilet is not a live, operational community toilet.",
                                 TOILET_LINK_FIELD)
        self.geometries = {}
        for edit in self.b_ins + self.b_upd:
            if edit.geometry is None or not (edit.action == "insert" or edit.geometry_changed):
                if edit.action == "update" and edit.geometry_changed:
                    self.problem(edit, "A building cannot lose its footprint; delete the building instead.", "geom")
                continue
            self.cur.execute(
                "SELECT ST_IsEmpty(g), ST_IsValid(g), ST_IsValidReason(g), GeometryType(g), ST_NumGeometries(g), "
                "ST_NRings(g), round(ST_Area(g::geography)::numeric, 2) "
                "FROM (SELECT ST_Force2D(ST_GeomFromWKB(%s, 4326)) AS g) s", (psycopg2.Binary(edit.geometry),))
            empty, valid, reason, kind, parts, rings, area = self.cur.fetchone()
            if empty or kind not in ("POLYGON", "MULTIPOLYGON"):
                self.problem(edit, "The footprint must be a polygon.", "geom")
            elif not valid:
                self.problem(edit, f"The footprint is not a valid polygon ({reason}); fix it "
                                   "(Vector > Geometry Tools > Check Validity).", "geom")
            elif parts != 1 or rings != 1:
                self.problem(edit, "The footprint must be one polygon without holes, like IMIS footprints "
                                   f"(it has {parts} part(s) and {rings - parts} hole(s)).", "geom")
            else:
                self.geometries[edit.key] = (edit.geometry, area)

    # -- writing -------------------------------------------------------------------------------
    def write_buildings(self):
        for edit in self.b_ins:
            bin_ = self.real(edit.key)
            rec = self.buildings[bin_]
            self.context = edit
            geometry, area = self.geometries[bin_]
            values = {c: rec.get(c) for c in BUILDING_EDITABLE if c != "bin"}
            values.update(bin=bin_, verification_status=True, estimated_area=area, user_id=self.user_id,
                          created_at=self.now, updated_at=self.now)
            self.insert("buildings", values, geometry=geometry, multi=True)
            self.created.append(("buildings", bin_))
        for bin_, rec in self.buildings.items():
            if ("buildings", bin_) not in self.before:
                continue
            edit = self.building_edit[bin_]
            self.context = edit
            before = self.before[("buildings", bin_)]
            changes = {c: rec[c] for c in BUILDING_EDITABLE if c in rec and not audit.same_value(before[c][0], rec[c])}
            changes.update(user_id=self.user_id, updated_at=self.now)
            geometry = None
            if bin_ in self.geometries:
                geometry, area = self.geometries[bin_]
                changes["estimated_area"] = area
            self.update("buildings", bin_, changes, geometry=geometry, multi=True)

    def insert(self, table, values, geometry=None, multi=False, returning=None):
        columns = list(values)
        placeholders = [sql.Placeholder()] * len(columns)
        params = [values[c] for c in columns]
        if geometry is not None:
            columns.append("geom")
            expression = "ST_Multi(ST_Force2D(ST_GeomFromWKB(%s, 4326)))" if multi else \
                "ST_Force2D(ST_GeomFromWKB(%s, 4326))"
            placeholders.append(sql.SQL(expression))
            params.append(psycopg2.Binary(geometry))
        query = sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
            table_name(table), sql.SQL(", ").join(map(sql.Identifier, columns)), sql.SQL(", ").join(placeholders))
        if returning:
            query = query + sql.SQL(" RETURNING {}").format(sql.Identifier(returning))
        self.execute(table, query, params)
        return self.cur.fetchone()[0] if returning else None

    def update(self, table, key, changes, geometry=None, multi=False, key_column=None):
        if not changes and geometry is None:
            return
        sets = [sql.SQL("{} = %s").format(sql.Identifier(c)) for c in changes]
        params = list(changes.values())
        if geometry is not None:
            expression = "ST_Multi(ST_Force2D(ST_GeomFromWKB(%s, 4326)))" if multi else \
                "ST_Force2D(ST_GeomFromWKB(%s, 4326))"
            sets.append(sql.SQL("geom = " + expression))
            params.append(psycopg2.Binary(geometry))
        query = sql.SQL("UPDATE {} SET {} WHERE {} = %s").format(
            table_name(table), sql.SQL(", ").join(sets), sql.Identifier(key_column or KEY[table]))
        self.execute(table, query, params + [key])

    def execute(self, table, query, params):
        if table == "containments":
            started = time.perf_counter()
            self.cur.execute(query, params)
            self.result.containment_write_seconds += time.perf_counter() - started
        else:
            self.cur.execute(query, params)

    def write_owners(self):
        wanted = {}
        for edit in self.owner_edits:
            wanted.setdefault(edit.values["bin"], []).append(edit)
        for bin_, edits in wanted.items():
            values = {}
            for edit in edits:
                values.update({c: v for c, v in edit.values.items() if c in OWNER_COLUMNS})
            rec = self.buildings.get(bin_, {})
            values = {c: rec.get(c, values.get(c)) for c in values}
            self.context = edits[0]
            # One owner row per BIN (UNIQUE, soft-deleted rows included): update it if it exists.
            existing = self.fetch("owners", "bin", [bin_], lock=True)
            if existing:
                owner_id, image = next(iter(existing.items()))
                self.remember("owners", existing)
                changes = {c: v for c, v in values.items() if not audit.same_value(image[c][0], v)}
                if changes:
                    changes["updated_at"] = self.now
                    self.update("owners", owner_id, changes)
            else:
                row = dict(values, bin=bin_, created_at=self.now, updated_at=self.now)
                owner_id = self.insert("owners", row, returning="id")
                self.created.append(("owners", owner_id))

    def write_containments(self):
        for edit in self.c_ins:
            key = self.real(edit.key)
            rec = self.containments[key]
            self.context = edit
            values = {c: rec.get(c) for c in CONTAINMENT_EDITABLE if c != "id"}
            values.update(id=key, emptied_status=False, no_of_times_emptied=0, user_id=self.user_id,
                          created_at=self.now, updated_at=self.now)
            if edit.geometry is not None:
                self.insert("containments", values, geometry=edit.geometry)
            else:
                # Area centroid of the (first) linked building's footprint (§6.4, rule b).
                host = self.new_links[key][0]
                columns = list(values) + ["geom"]
                query = sql.SQL(
                    "INSERT INTO fsm.containments ({}) SELECT {}, ST_Centroid(ST_Union(geom)) "
                    "FROM building_info.buildings WHERE bin = %s"
                ).format(sql.SQL(", ").join(map(sql.Identifier, columns)),
                         sql.SQL(", ").join([sql.Placeholder()] * len(values)))
                self.execute("containments", query, list(values.values()) + [host])
            self.created.append(("containments", key))
        for edit in self.c_upd:
            rec = self.containments[edit.key]
            self.context = edit
            before = self.before[("containments", edit.key)]
            changes = {c: rec[c] for c in CONTAINMENT_EDITABLE
                       if c in rec and c != "id" and not audit.same_value(before[c][0], rec[c])}
            geometry = edit.geometry if edit.geometry_changed else None
            if changes or geometry is not None:
                changes["updated_at"] = self.now
                self.update("containments", edit.key, changes, geometry=geometry)

    def write_links(self):
        for edit in self.l_ins:
            self.context = edit
            bin_, cid = edit.values.get("bin"), edit.values.get("containment_id")
            self.cur.execute("SELECT deleted_at IS NULL FROM building_info.buildings WHERE bin = %s", (bin_,))
            row = self.cur.fetchone()
            if not row or not row[0]:
                self.problem(edit, f"Building {bin_} does not exist or is deleted.")
                continue
            self.cur.execute("SELECT deleted_at IS NULL FROM fsm.containments WHERE id = %s", (cid,))
            row = self.cur.fetchone()
            if not row or not row[0]:
                self.problem(edit, f"Containment {cid} does not exist or is deleted.")
                continue
            self.cur.execute(
                "SELECT 1 FROM building_info.build_contains WHERE bin = %s AND containment_id = %s "
                "AND deleted_at IS NULL", (bin_, cid))
            if self.cur.fetchone():
                self.result.notes.append(f"Building {bin_} was already linked to containment {cid}; "
                                         "no second link was made.")
                continue
            self.insert("build_contains", {"bin": bin_, "containment_id": cid, "created_at": self.now,
                                           "updated_at": self.now})
            self.affected.add(bin_)
        for edit in self.l_del:
            self.context = edit
            image = self.links_before[edit.key]
            bin_, cid = image["bin"][0], image["containment_id"][0]
            if self.emptying_in_progress(cid):
                self.problem(edit, f"Containment {cid} cannot be unlinked while an emptying application for it "
                                   "is in progress (emptying status not yet true).")
                continue
            self.update("build_contains", edit.key, {"deleted_at": self.now, "updated_at": self.now})
            self.affected.add(bin_)
            self.cur.execute(
                "SELECT count(*) FROM building_info.build_contains bc JOIN building_info.buildings b "
                "ON b.bin = bc.bin WHERE bc.containment_id = %s AND bc.deleted_at IS NULL AND b.deleted_at IS NULL",
                (cid,))
            if self.cur.fetchone()[0] == 0 and cid not in {e.key for e in self.c_del}:
                self.result.notes.append(
                    f"Containment {cid} serves no building any more; delete it if it is no longer used "
                    "(building-based analyses cannot see it).")

    def emptying_in_progress(self, containment_id):
        self.cur.execute(
            "SELECT 1 FROM fsm.applications WHERE containment_id = %s AND deleted_at IS NULL "
            "AND emptying_status = false LIMIT 1", (containment_id,))
        return self.cur.fetchone() is not None

    def write_community_toilets(self):
        for bin_, rec in self.buildings.items():
            edit = self.building_edit[bin_]
            wanted = rec.get(TOILET_LINK_FIELD) if rules.sanitation_system(rec) == rules.COMMUNITY_TOILET else None
            self.cur.execute(
                "SELECT id, toilet_id FROM fsm.build_toilets WHERE bin = %s AND deleted_at IS NULL ORDER BY id",
                (bin_,))
            live = self.cur.fetchall()
            if wanted is not None and len(live) == 1 and live[0][1] == wanted:
                continue
            self.context = edit
            for link_id, _ in live:
                # Changing the community toilet: IMIS soft-deletes the old link and inserts a new one.
                self.update("build_toilets", link_id, {"deleted_at": self.now, "updated_at": self.now})
            if wanted is not None:
                self.insert("build_toilets", {"bin": bin_, "toilet_id": wanted, "created_at": self.now,
                                              "updated_at": self.now})

    def delete_buildings(self):
        for edit in self.b_del:
            self.context = edit
            self.cur.execute(
                "SELECT bc.containment_id FROM building_info.build_contains bc JOIN fsm.containments c "
                "ON c.id = bc.containment_id WHERE bc.bin = %s AND bc.deleted_at IS NULL AND c.deleted_at IS NULL "
                "ORDER BY 1", (edit.key,))
            linked = [row[0] for row in self.cur.fetchall()]
            if linked:
                self.problem(edit, "Failed to delete building, it is associated with containment data "
                                   f"({', '.join(linked)}): unlink or delete the containments first.")
                continue
            self.update("buildings", edit.key, {"deleted_at": self.now, "updated_at": self.now})
            self.cur.execute(
                "UPDATE fsm.build_toilets SET deleted_at = %s, updated_at = %s WHERE bin = %s AND deleted_at IS NULL",
                (self.now, self.now, edit.key))
            self.deleted.append(("buildings", edit.key))
            self.affected.discard(edit.key)
        if self.b_del:
            self.result.notes.append("IMIS's ward and grid building counts are not updated by deletions; "
                                     "the IMIS administrator restores them with its updatecount commands.")

    def delete_containments(self):
        for edit in self.c_del:
            self.context = edit
            self.cur.execute(
                "SELECT bc.bin FROM building_info.build_contains bc JOIN building_info.buildings b ON b.bin = bc.bin "
                "WHERE bc.containment_id = %s AND bc.deleted_at IS NULL AND b.deleted_at IS NULL ORDER BY 1",
                (edit.key,))
            linked = [row[0] for row in self.cur.fetchall()]
            if linked or self.emptying_in_progress(edit.key):
                reason = (f"it still serves building(s) {', '.join(linked)}: unlink it first"
                          if linked else "an emptying application for it is in progress")
                self.problem(edit, "Failed to Delete Containment, it is associated with buildings or has "
                                   f"applications where emptying status is false ({reason}).")
                continue
            self.update("containments", edit.key, {"deleted_at": self.now, "updated_at": self.now})
            self.cur.execute(
                "UPDATE building_info.build_contains SET deleted_at = %s, updated_at = %s "
                "WHERE containment_id = %s AND deleted_at IS NULL RETURNING bin", (self.now, self.now, edit.key))
            self.affected.update(row[0] for row in self.cur.fetchall())
            self.deleted.append(("containments", edit.key))

    # -- after the rows: IMIS's propagation and the consistency rules -------------------------------
    def live_links(self, bins):
        self.cur.execute(
            "SELECT bc.bin, c.id, c.type_id FROM building_info.build_contains bc JOIN fsm.containments c "
            "ON c.id = bc.containment_id WHERE bc.bin = ANY(%s) AND bc.deleted_at IS NULL AND c.deleted_at IS NULL "
            "ORDER BY c.id", (list(bins),))
        out = {}
        for bin_, cid, type_id in self.cur.fetchall():
            out.setdefault(bin_, []).append((cid, type_id))
        return out

    def propagate(self):
        """§6.6: a containment added to a building or edited imposes its system on its live buildings."""
        changed = [self.real(e.key) for e in self.c_ins]
        changed += [e.key for e in self.c_upd if "type_id" in e.values]
        if not changed:
            return
        self.cur.execute(
            "SELECT bc.bin, bc.containment_id FROM building_info.build_contains bc JOIN building_info.buildings b "
            "ON b.bin = bc.bin WHERE bc.containment_id = ANY(%s) AND bc.deleted_at IS NULL AND b.deleted_at IS NULL "
            "ORDER BY 1", (changed,))
        pairs = self.cur.fetchall()
        images = self.fetch("buildings", "bin", sorted({b for b, _ in pairs}), lock=True)
        self.remember("buildings", images)
        for bin_, cid in pairs:
            rec = self.buildings.get(bin_) or {c: v for c, (v, _) in images[bin_].items()}
            self.buildings.setdefault(bin_, rec)
            self.building_edit.setdefault(bin_, self.stub("buildings", bin_))
            self.affected.add(bin_)
            if bin_ in self.explicit_system:
                continue  # the editor chose this building's system in this save: checked, not overridden
            type_id = self.containments[cid]["type_id"]
            changes = rules.propagate_type(rec, type_id, self.facts)
            if changes:
                self.context = self.building_edit[bin_]
                rec.update(changes)
                self.update("buildings", bin_, dict(changes, user_id=self.user_id, updated_at=self.now))
                self.result.notes.append(
                    f"Building {bin_}: Toilet Connection set to '{self.facts.system(rec['sanitation_system_id'])}' "
                    f"to match containment {cid} ('{self.facts.type_name(type_id)}').")
            if cid in self.keymap.values() and ("buildings", bin_) in self.before:
                self.cur.execute(
                    "UPDATE fsm.build_toilets SET deleted_at = %s, updated_at = %s WHERE bin = %s AND deleted_at IS NULL",
                    (self.now, self.now, bin_))

    def check_consistency(self):
        bins = sorted(self.affected)
        if not bins:
            return
        missing = [b for b in bins if b not in self.buildings]
        images = self.fetch("buildings", "bin", missing, lock=True)
        self.remember("buildings", images)
        for bin_ in missing:
            if bin_ in images:
                self.buildings[bin_] = {c: v for c, (v, _) in images[bin_].items()}
                self.building_edit[bin_] = self.stub("buildings", bin_)
        links = self.live_links(bins)
        for bin_ in bins:
            rec = self.buildings.get(bin_)
            if rec is None or ("buildings", bin_) in self.deleted:
                continue
            edit = self.building_edit[bin_]
            linked = links.get(bin_, [])
            if rules.sanitation_system(rec) == rules.SHARED_SEPTIC:
                # §4.4: link to the host's containment, then adopt the host's system (3 or 4).
                systems = {self.facts.type_system.get(t) for _, t in linked}
                if not linked:
                    self.problem(edit, "Shared Septic Tank: link the containment of the pre-connected building "
                                       "(Containment Information > link existing containment).", "sanitation_system_id")
                    continue
                if len(systems) != 1 or not systems <= rules.ONSITE:
                    self.problem(edit, "Shared Septic Tank: the linked containments must all be septic tanks or "
                                       "all pits.", "sanitation_system_id")
                    continue
                rec["sanitation_system_id"] = systems.pop()
                self.context = edit
                self.update("buildings", bin_, {"sanitation_system_id": rec["sanitation_system_id"]})
            problems, code_changes = rules.link_problems(rec, linked, self.facts)
            for p in problems:
                self.problem(edit, p.message, p.field)
            if code_changes and not problems:
                rec.update(code_changes)
                self.context = edit
                self.update("buildings", bin_, dict(code_changes, user_id=self.user_id, updated_at=self.now))

    # -- audit ------------------------------------------------------------------------------------
    def write_revisions(self):
        rows = []
        created = set(self.created)
        deleted = set(self.deleted)
        for table, key in self.created:
            if table in audit.CLASS_NAMES:
                rows += audit.creation_rows(table, key, self.now, self.user_id, self.now)
        updated = {}
        for (table, key), before in self.before.items():
            if table not in audit.CLASS_NAMES or (table, key) in created:
                continue
            if (table, key) in deleted:
                rows += audit.deletion_rows(table, key, self.now, self.user_id, self.now)
                continue
            updated.setdefault(table, {})[key] = before
        for table, befores in updated.items():
            after = self.fetch(table, KEY[table], sorted(befores))
            for key, before in befores.items():
                rows += audit.update_rows(table, key, before, after[key], self.user_id, self.now)
        if rows:
            from psycopg2.extras import execute_values

            columns = list(rows[0])
            execute_values(
                self.cur,
                sql.SQL("INSERT INTO public.revisions ({}) VALUES %s").format(
                    sql.SQL(", ").join(map(sql.Identifier, columns))).as_string(self.cur),
                [tuple(r[c] for c in columns) for r in rows],
            )
        self.result.revisions = len(rows)
        self.result.counts = {
            "buildings created": len(self.b_ins), "buildings deleted": len(self.b_del),
            "containments created": len(self.c_ins), "containments deleted": len(self.c_del),
            "revisions": len(rows),
        }

    def trigger_seconds(self):
        """Time spent in IMIS's trigger functions in this transaction (needs track_functions = 'pl')."""
        try:
            self.cur.execute("SAVEPOINT imis_trigger_time")
            self.cur.execute(
                "SELECT sum(total_time) FROM pg_stat_xact_user_functions WHERE funcname LIKE 'fnc_set%%'")
            total = self.cur.fetchone()[0]
            self.cur.execute("RELEASE SAVEPOINT imis_trigger_time")
        except psycopg2.Error:
            self.cur.execute("ROLLBACK TO SAVEPOINT imis_trigger_time")
            return None
        return None if total is None else float(total) / 1000.0

    # -- database errors -----------------------------------------------------------------------------
    def db_problem(self, error):
        edit = self.context
        what = self.describe(edit) if edit else "Save"
        layer, fid = (edit.layer, edit.fid) if edit else ("", None)
        diag = getattr(error, "diag", None)
        primary = (diag.message_primary if diag and diag.message_primary else str(error).strip().splitlines()[0]
                   if str(error).strip() else error.__class__.__name__)
        column = None
        if isinstance(error, (psycopg2.OperationalError, psycopg2.InterfaceError)) and (
                self.conn.closed or isinstance(error, psycopg2.InterfaceError) or not diag or not diag.sqlstate
                or diag.sqlstate.startswith("08") or diag.sqlstate.startswith("57P")):
            if self.committing:
                message = ("The connection to the IMIS database was lost while committing: check in IMIS "
                           f"whether the change was saved before saving again ({primary}).")
            else:
                message = ("The connection to the IMIS database was lost while saving; nothing was saved and "
                           f"your edits are kept. Check the connection and save again ({primary}).")
            return FeatureProblem("Save", message)
        if isinstance(error, errors.QueryCanceled):
            return FeatureProblem("Save", "Saving was cancelled; nothing was saved and your edits are kept.")
        constraint = diag.constraint_name if diag else None
        if isinstance(error, errors.UniqueViolation):
            if constraint == "buildings_house_number_unique":
                column = "house_number"
                message = "This House Number is already used by another building (deleted ones included)."
            elif constraint and constraint.endswith("pkey"):
                message = ("Its new id was taken at the same moment by another editor (perhaps the IMIS web "
                           "application). Save again to get the next id.")
            else:
                message = primary
        elif isinstance(error, errors.ForeignKeyViolation) and constraint:
            prefix = QUALIFIED.get(edit.table, ("", ""))[1] + "_" if edit else ""
            column = constraint[len(prefix):-len("_fkey")] if constraint.endswith("_fkey") else None
            message = f"The value is not found in IMIS ({primary})."
        elif diag and diag.context and "fnc_" in diag.context:
            message = f"IMIS's database trigger failed: {primary}."
            if isinstance(error, errors.InsufficientPrivilege):
                message += (" Your database role may not refresh IMIS's chart views; ask the database "
                            "administrator to grant you membership in the role that owns them (IMIS > Check "
                            "IMIS database names it).")
        else:
            message = primary
        specs = CONTAINMENT_SPECS if edit is not None and edit.table == "containments" else BUILDING_SPECS
        label = specs[column].label if column in specs else column
        return FeatureProblem(what, message, field=column, label=label, layer=layer, fid=fid)
