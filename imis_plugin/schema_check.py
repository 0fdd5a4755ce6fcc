"""Connection check: which IMIS tables exist, what the role may do, which triggers fire.

DATABASE.md §14 and §12.1: real databases carry row triggers on fsm.containments that
refresh materialised views only their owner may refresh, and IMIS hard-codes some lookup
ids. Both decide whether editing can work, so the check reports them by name.
"""
from dataclasses import dataclass, field

# Every IMIS table the plugin reads or writes.
READ_TABLES = (
    "building_info.buildings",
    "building_info.owners",
    "building_info.build_contains",
    "building_info.structure_types",
    "building_info.functional_uses",
    "building_info.use_categorys",
    "building_info.sanitation_systems",
    "building_info.water_sources",
    "fsm.containments",
    "fsm.containment_types",
    "fsm.toilets",
    "fsm.build_toilets",
    "layer_info.waterbodys",
    "layer_info.wards",
    "layer_info.citypolys",
    "layer_info.low_income_communities",
    "utility_info.roads",
    "utility_info.drains",
    "utility_info.sewers",
    "utility_info.water_supplys",
    "public.revisions",
    "auth.users",
)
WRITE_TABLES = (
    "building_info.buildings",
    "building_info.owners",
    "building_info.build_contains",
    "fsm.containments",
    "fsm.build_toilets",
    "public.revisions",
)
TRIGGER_TABLES = ("fsm.containments", "building_info.buildings", "utility_info.roads")
# Trigger name -> materialised view its function refreshes (unqualified: search_path decides).
TRIGGER_VIEWS = {
    "tgr_set_builtupperwardsummary": "builtupperward_summaryforchart",
    "tgr_set_landusesummary": "landuse_summaryforchart",
}


@dataclass
class DatabaseReport:
    database: str = ""
    role: str = ""
    present: list = field(default_factory=list)
    missing: list = field(default_factory=list)
    unreadable: list = field(default_factory=list)
    unwritable: list = field(default_factory=list)
    triggers: list = field(default_factory=list)  # (table, trigger)
    view_problems: list = field(default_factory=list)
    lookup_problems: list = field(default_factory=list)

    @property
    def can_read(self):
        return not self.missing and not self.unreadable

    @property
    def can_write(self):
        return self.can_read and not self.unwritable and not self.view_problems

    @property
    def containment_trigger_present(self):
        return any(table == "fsm.containments" for table, _ in self.triggers)

    def lines(self):
        out = [f"Database '{self.database}' as role '{self.role}'."]
        out.append(f"IMIS tables present: {len(self.present)} of {len(READ_TABLES)}.")
        if self.missing:
            out.append("Missing tables: " + ", ".join(self.missing) + ".")
        if self.unreadable:
            out.append("No read right on: " + ", ".join(self.unreadable) + ".")
        if self.unwritable:
            out.append("No write right (INSERT/UPDATE) on: " + ", ".join(self.unwritable) + ".")
        for table, trigger in self.triggers:
            out.append(f"Trigger {trigger} on {table}: fires on every row edit (edits are slower).")
        out.extend(self.view_problems)
        out.extend(self.lookup_problems)
        if self.can_write:
            out.append("Analyses: yes. Editing: yes.")
        else:
            out.append(f"Analyses: {'yes' if self.can_read else 'no'}. Editing: no.")
        return out


def check_database(conn):
    """Inspect the database behind psycopg2 connection `conn`; changes nothing."""
    report = DatabaseReport()
    with conn.cursor() as cur:
        cur.execute("SELECT current_database(), current_user")
        report.database, report.role = cur.fetchone()
        cur.execute(
            """
            SELECT n.nspname || '.' || c.relname
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'p', 'v') AND n.nspname || '.' || c.relname = ANY(%s)
            """,
            (list(READ_TABLES),),
        )
        found = {row[0] for row in cur.fetchall()}
        report.present = [t for t in READ_TABLES if t in found]
        report.missing = [t for t in READ_TABLES if t not in found]
        for table in report.present:
            cur.execute("SELECT has_table_privilege(%s, 'SELECT')", (table,))
            if not cur.fetchone()[0]:
                report.unreadable.append(table)
        for table in WRITE_TABLES:
            if table not in found:
                continue
            cur.execute(
                "SELECT has_table_privilege(%s, 'INSERT') AND has_table_privilege(%s, 'UPDATE')",
                (table, table),
            )
            if not cur.fetchone()[0]:
                report.unwritable.append(table)
        cur.execute(
            """
            SELECT n.nspname || '.' || c.relname, t.tgname
            FROM pg_trigger t
            JOIN pg_class c ON c.oid = t.tgrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE NOT t.tgisinternal AND n.nspname || '.' || c.relname = ANY(%s)
            ORDER BY 1, 2
            """,
            (list(TRIGGER_TABLES),),
        )
        report.triggers = [tuple(row) for row in cur.fetchall()]
        for _, trigger in report.triggers:
            view = TRIGGER_VIEWS.get(trigger)
            if view:
                problem = _view_problem(cur, trigger, view)
                if problem:
                    report.view_problems.append(problem)
        if "building_info.sanitation_systems" in found and "fsm.containment_types" in found:
            report.lookup_problems = lookup_problems(cur)
    conn.rollback()
    return report


def _view_problem(cur, trigger, view):
    cur.execute(
        """
        SELECT n.nspname, pg_get_userbyid(c.relowner), pg_has_role(current_user, c.relowner, 'MEMBER')
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.oid = to_regclass(%s) AND c.relkind = 'm'
        """,
        (view,),
    )
    row = cur.fetchone()
    if row is None:
        cur.execute("SELECT has_schema_privilege(current_schema(), 'CREATE')")
        if not cur.fetchone()[0]:
            return (
                f"Trigger {trigger} creates the view {view} on its first run, but this role may "
                "not create objects in its schema: containment edits will fail."
            )
        return None
    schema, owner, member = row
    if not member:
        return (
            f"Containment edits will fail: trigger {trigger} refreshes {schema}.{view}, which only "
            f"its owner '{owner}' (or a member of that role) may refresh. Ask the database "
            f"administrator to GRANT {owner} TO this login role."
        )
    return None


def lookup_problems(cur):
    """Problems with the lookup ids IMIS hard-codes (DATABASE.md §12.1); empty when all is as IMIS expects."""
    problems = []
    cur.execute("SELECT id FROM building_info.sanitation_systems WHERE id BETWEEN 1 AND 12")
    have = {row[0] for row in cur.fetchall()}
    absent = [i for i in range(1, 13) if i not in have]
    if absent:
        problems.append(
            "Sanitation system ids IMIS relies on are missing: "
            + ", ".join(map(str, absent))
            + ". Rules that depend on them are disabled."
        )
    cur.execute("SELECT id, sanitation_system_id FROM fsm.containment_types WHERE id BETWEEN 1 AND 16")
    systems = dict(cur.fetchall())
    wrong = [
        str(i)
        for i in range(1, 17)
        if systems.get(i) != (3 if i <= 7 else 4)
    ]
    if wrong:
        problems.append(
            "Containment types that IMIS expects under Septic Tank (1-7) or Pit/ Holding Tank "
            "(8-16) are missing or moved: " + ", ".join(wrong) + ". Rules that depend on them are disabled."
        )
    return problems
