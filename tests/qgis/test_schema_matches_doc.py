"""sql/schema.sql must match the column tables of ../shared/imis/DATABASE.md.

For every table that DATABASE.md documents with a full column table and that
sql/schema.sql creates, the database built from schema.sql (fixture ``sample_db``)
must have the same columns, in the same order, with the same types (as rendered by
``format_type``) and the same nullability.
"""

import importlib.util
import re
from pathlib import Path

import psycopg2
import pytest

REPO = Path(__file__).resolve().parents[2]
SCHEMA_SQL = REPO / "sql" / "schema.sql"


def _load_dbdoc():
    # Loaded by path so the test works whatever rootdir/sys.path pytest chose.
    spec = importlib.util.spec_from_file_location(
        "imis_tests_support_dbdoc", REPO / "tests" / "support" / "dbdoc.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


dbdoc = _load_dbdoc()
DATABASE_MD = dbdoc.shared_imis_dir(REPO) / "DATABASE.md"

_CREATE_TABLE = re.compile(
    r"^\s*CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?\"?(\w+)\"?\.\"?(\w+)\"?",
    re.IGNORECASE | re.MULTILINE,
)


def _tables_in_schema_sql():
    text = SCHEMA_SQL.read_text(encoding="utf-8")
    return {f"{s}.{t}".lower() for s, t in _CREATE_TABLE.findall(text)}


def _db_columns(cur, qualified):
    schema, table = qualified.split(".", 1)
    cur.execute(
        """
        SELECT a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull
        FROM pg_catalog.pg_attribute a
        JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
        JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = %s AND c.relname = %s AND c.relkind IN ('r', 'p')
          AND a.attnum > 0 AND NOT a.attisdropped
        ORDER BY a.attnum
        """,
        (schema, table),
    )
    return [(name, typ, nullable) for name, typ, nullable in cur.fetchall()]


def _compare(qualified, documented, actual, partial):
    """Return a list of human-readable mismatches naming table and column."""
    problems = []
    actual_by_name = {c[0]: c for c in actual}
    doc_names = [c[0] for c in documented]
    actual_names = [c[0] for c in actual]

    for name, typ, nullable in documented:
        if name not in actual_by_name:
            problems.append(f"{qualified}.{name}: documented column missing in the database")
            continue
        _n, db_typ, db_nullable = actual_by_name[name]
        if db_typ != typ:
            problems.append(f"{qualified}.{name}: type is {db_typ!r}, DATABASE.md says {typ!r}")
        if db_nullable != nullable:
            problems.append(
                f"{qualified}.{name}: database has {'NULL' if db_nullable else 'NOT NULL'}, "
                f"DATABASE.md says {'null' if nullable else 'NOT NULL'}"
            )

    if not partial:
        for name in actual_names:
            if name not in doc_names:
                problems.append(f"{qualified}.{name}: column not documented in DATABASE.md")
    # order: documented columns must appear in the documented order
    present_in_db_order = [n for n in actual_names if n in doc_names]
    present_in_doc_order = [n for n in doc_names if n in actual_by_name]
    if present_in_db_order != present_in_doc_order:
        for pos, (db_n, doc_n) in enumerate(zip(present_in_db_order, present_in_doc_order), 1):
            if db_n != doc_n:
                problems.append(
                    f"{qualified}.{db_n}: column order differs at documented position {pos} "
                    f"(DATABASE.md has {doc_n!r} there)"
                )
                break
    return problems


def test_dbdoc_parser_reads_known_tables():
    tables = dbdoc.documented_tables(DATABASE_MD)
    buildings = tables["building_info.buildings"]
    assert len(buildings) == 45  # "45 columns" (DATABASE.md 4.1)
    assert buildings[0] == ("bin", "character varying(254)", False)
    assert buildings[38] == ("geom", "geometry(MultiPolygon,4326)", True)
    wards = tables["layer_info.wards"]
    assert wards[0] == ("ward", "integer", False) and len(wards) == 22
    assert tables["public.revisions"][7] == ("created_at", "timestamp(0) without time zone", True)
    assert "layer_info.wardboundary" not in tables  # compact table of 6.8
    assert dbdoc.partially_documented_tables(DATABASE_MD) == {"auth.users"}


def test_schema_matches_database_md(sample_db):
    documented = dbdoc.documented_tables(DATABASE_MD)
    partial = dbdoc.partially_documented_tables(DATABASE_MD)
    created = _tables_in_schema_sql()
    to_check = [q for q in documented if q.lower() in created]
    assert len(to_check) >= 20, f"only {len(to_check)} documented tables found in schema.sql"

    problems = []
    conn = psycopg2.connect(sample_db.dsn)
    try:
        conn.set_session(readonly=True)
        with conn.cursor() as cur:
            for qualified in to_check:
                actual = _db_columns(cur, qualified)
                if not actual:
                    problems.append(f"{qualified}: table missing in the database")
                    continue
                problems.extend(
                    _compare(qualified, documented[qualified], actual, qualified in partial)
                )
    finally:
        conn.rollback()
        conn.close()

    if problems:
        pytest.fail(
            "schema differs from DATABASE.md:\n  " + "\n  ".join(problems), pytrace=False
        )
