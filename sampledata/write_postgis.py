"""Write a sample Town into an empty PostGIS database, as a real IMIS database.

Steps: CREATE EXTENSION postgis; run sql/schema.sql; insert the seeded lookups
(sampledata.lookups.insert_lookups); apply the town's lookup overrides; load every table
with COPY (values are never formatted into SQL: COPY streams them as data, geometries
as EWKT), in foreign-key-safe order. Containments are loaded with the per-row trigger
``tgr_set_builtupperwardsummary`` disabled; the chart views are refreshed once after.
Sequences are set past the loaded ids, then ANALYZE.
"""
import io
import time
from pathlib import Path

import psycopg2
from psycopg2 import sql

from .lookups import insert_lookups
from .tables import GEOMETRY_KINDS, TABLES

SCHEMA_SQL = Path(__file__).resolve().parents[1] / "sql" / "schema.sql"
CONTAINMENT_TRIGGER = "tgr_set_builtupperwardsummary"


def _qualified(name):
    schema, table = name.split(".", 1)
    return sql.Identifier(schema, table)


def _copy_text(value, kind):
    if value is None:
        return r"\N"
    if kind in GEOMETRY_KINDS:
        return "SRID=4326;" + value
    if kind == "bool":
        return "t" if value else "f"
    if isinstance(value, float):
        return repr(value)
    s = str(value)
    return s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _copy_rows(cur, name, columns, kinds, rows):
    if not rows:
        return
    buf = io.StringIO()
    for row in rows:
        buf.write("\t".join(_copy_text(v, k) for v, k in zip(row, kinds)))
        buf.write("\n")
    buf.seek(0)
    stmt = sql.SQL("COPY {} ({}) FROM STDIN").format(
        _qualified(name), sql.SQL(", ").join(sql.Identifier(c) for c in columns))
    cur.copy_expert(stmt.as_string(cur), buf)


def apply_overrides(cur, overrides):
    """Deployment-specific lookup rows: update by key, insert when the key is new."""
    for name, spec in overrides.items():
        key = spec["key"]
        for row in spec["rows"]:
            cols = [c for c in row if c != key]
            upd = sql.SQL("UPDATE {} SET {} WHERE {} = %s").format(
                _qualified(name),
                sql.SQL(", ").join(sql.SQL("{} = %s").format(sql.Identifier(c)) for c in cols),
                sql.Identifier(key))
            cur.execute(upd, [row[c] for c in cols] + [row[key]])
            if cur.rowcount == 0:
                allc = list(row)
                ins = sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
                    _qualified(name), sql.SQL(", ").join(sql.Identifier(c) for c in allc),
                    sql.SQL(", ").join(sql.Placeholder() for _ in allc))
                cur.execute(ins, [row[c] for c in allc])


def _set_sequences(cur):
    """setval every sequence used as a column default past the loaded maximum."""
    cur.execute("""
        SELECT n.nspname, c.relname, a.attname, pg_get_expr(d.adbin, d.adrelid)
        FROM pg_attrdef d
        JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
        JOIN pg_class c ON c.oid = d.adrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE pg_get_expr(d.adbin, d.adrelid) LIKE 'nextval(%%'
    """)
    for schema, table, column, expr in cur.fetchall():
        seq = expr.split("'")[1]
        cur.execute(sql.SQL("SELECT max({}) FROM {}").format(sql.Identifier(column), sql.Identifier(schema, table)))
        mx = cur.fetchone()[0]
        if mx is None:
            cur.execute("SELECT setval(%s::regclass, 1, false)", (seq,))
        else:
            cur.execute("SELECT setval(%s::regclass, %s, true)", (seq, int(mx)))


def write_postgis(town, dsn, verbose=False):
    """Load ``town`` into the empty database ``dsn``. Returns {table: seconds}."""
    timings = {}
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            t = time.time()
            cur.execute("CREATE EXTENSION IF NOT EXISTS postgis")
            cur.execute(SCHEMA_SQL.read_text(encoding="utf-8"))
            insert_lookups(cur)
            apply_overrides(cur, town.lookup_overrides)
            timings["schema+lookups"] = time.time() - t
            for name, table in town.tables.items():
                t = time.time()
                kinds = dict(TABLES[name])
                cols = table.columns
                if name == "fsm.containments":
                    cur.execute(sql.SQL("ALTER TABLE {} DISABLE TRIGGER {}").format(
                        _qualified(name), sql.Identifier(CONTAINMENT_TRIGGER)))
                _copy_rows(cur, name, cols, [kinds[c] for c in cols], table.rows)
                if name == "fsm.containments":
                    cur.execute(sql.SQL("ALTER TABLE {} ENABLE TRIGGER {}").format(
                        _qualified(name), sql.Identifier(CONTAINMENT_TRIGGER)))
                timings[name] = time.time() - t
                if verbose:
                    print(f"  {name:40s} {len(table.rows):8d} rows {timings[name]:7.2f} s", flush=True)
            t = time.time()
            _set_sequences(cur)
            timings["sequences"] = time.time() - t
        conn.commit()
        t = time.time()
        _refresh_views(conn)
        timings["refresh views"] = time.time() - t
        t = time.time()
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("ANALYZE")
        timings["analyze"] = time.time() - t
    finally:
        conn.close()
    return timings


def _refresh_views(conn):
    """Refresh the containment chart views once, as the trigger would have (DATABASE.md 14).

    ``builtupperward_summaryforchart`` is created by the trigger function on its first
    run. If it does not exist yet, its CREATE statement is taken from the function's own
    source and run once (WITH DATA); if that is not possible, the trigger is fired once by
    a no-op update of one containment (which creates the view and refreshes it).
    """
    with conn.cursor() as cur:
        cur.execute("SELECT to_regclass('builtupperward_summaryforchart') IS NOT NULL")
        if cur.fetchone()[0]:
            cur.execute("REFRESH MATERIALIZED VIEW builtupperward_summaryforchart")
        else:
            cur.execute("""SELECT p.prosrc FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
                           WHERE t.tgname = %s AND NOT t.tgisinternal""", (CONTAINMENT_TRIGGER,))
            row = cur.fetchone()
            create = _create_statement(row[0]) if row else None
            if create:
                cur.execute(create)
            elif row:
                cur.execute("UPDATE fsm.containments SET id = id WHERE id = (SELECT min(id) FROM fsm.containments)")
        cur.execute("SELECT to_regclass('public.landuse_summaryforchart') IS NOT NULL")
        if cur.fetchone()[0]:
            cur.execute("REFRESH MATERIALIZED VIEW public.landuse_summaryforchart")
    conn.commit()


def _create_statement(source):
    """The 'CREATE MATERIALIZED VIEW ... builtupperward_summaryforchart ...;' of a function body."""
    low = source.lower()
    start = low.find("create materialized view")
    if start < 0 or "builtupperward_summaryforchart" not in low[start:start + 120]:
        return None
    end = source.find(";", start)
    return source[start:end] if end > 0 else None
