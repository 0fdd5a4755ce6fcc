"""The IMIS connection check on real databases: complete, incomplete, and a role without view rights."""
import psycopg2
import pytest
from psycopg2 import sql


@pytest.fixture
def check(imis_package):
    from imis.imis_plugin.schema_check import check_database

    return check_database


def test_complete_sample_database(check, sample_db):
    conn = sample_db.connect()
    try:
        report = check(conn)
    finally:
        conn.close()
    assert report.missing == []
    assert report.can_read and report.can_write
    assert ("fsm.containments", "tgr_set_builtupperwardsummary") in report.triggers
    assert report.lookup_problems == []
    assert any("tgr_set_builtupperwardsummary" in line for line in report.lines())


def test_missing_tables_are_named(check, scratch_db):
    conn = scratch_db.connect()
    with conn.cursor() as cur:
        cur.execute("DROP TABLE fsm.build_toilets; DROP TABLE public.revisions")
    conn.commit()
    report = check(conn)
    conn.close()
    assert report.missing == ["fsm.build_toilets", "public.revisions"]
    text = "\n".join(report.lines())
    assert "Missing tables: fsm.build_toilets, public.revisions." in text
    assert "Editing: no." in text


def test_role_that_may_not_refresh_the_trigger_view(check, scratch_db):
    admin = scratch_db.connect()
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute("DROP ROLE IF EXISTS imis_editor")
        cur.execute("CREATE ROLE imis_editor LOGIN")
        for schema in ("building_info", "fsm", "layer_info", "utility_info", "public", "auth"):
            cur.execute(sql.SQL("GRANT USAGE ON SCHEMA {0} TO imis_editor; "
                                "GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA {0} TO imis_editor")
                        .format(sql.Identifier(schema)))
        # The view exists and belongs to postgres, as after the web app's first containment write.
        cur.execute("UPDATE fsm.containments SET updated_at = updated_at WHERE id = (SELECT min(id) FROM fsm.containments)")
    editor = psycopg2.connect(scratch_db.dsn.replace("user=postgres", "user=imis_editor"))
    try:
        report = check(editor)
    finally:
        editor.close()
    assert report.role == "imis_editor"
    assert report.missing == [] and report.unwritable == []
    assert not report.can_write
    assert any("builtupperward_summaryforchart" in p and "'postgres'" in p for p in report.view_problems)
    with admin.cursor() as cur:
        cur.execute("DROP OWNED BY imis_editor; DROP ROLE imis_editor")
    admin.close()


def test_settings_keep_only_the_connection_name(qgis_app, imis_package, saved_connection):
    from qgis.core import QgsSettings

    from imis.imis_plugin import db, settings

    settings.set_connection_name(saved_connection)
    stored = {key: QgsSettings().value(key) for key in QgsSettings().allKeys() if key.startswith("imis/")}
    assert stored["imis/connection"] == saved_connection
    assert not any("pass" in key.lower() for key in stored), stored
    conn = db.connect_saved()
    with conn.cursor() as cur:
        cur.execute("SELECT current_database()")
        assert cur.fetchone()[0] == "imis_sample"
    conn.close()


def test_unknown_saved_connection_is_named(qgis_app, imis_package):
    from imis.imis_plugin import db

    with pytest.raises(db.ImisDbError, match="No saved PostgreSQL connection named 'nope'"):
        db.connect_saved("nope")
