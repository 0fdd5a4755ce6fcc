"""Water supply coverage in PostGIS: read-only, cancellable, three queries on one snapshot.

Query "near" finds each live building's nearest live pipe within the distance
(nearest_local: pipes cut into pieces, GiST prefilter, metres in local ellipsoidal frames);
query "wards" the ward of each building (wards.ward_of_sql: footprint centroid); query
"buildings" returns every live building with the state of its recorded pipe code. They are
independent, so they run at the same time on connections that share one exported snapshot (the
same data, as if in one transaction); QGIS builds the footprint features meanwhile. On a city of
150,000 buildings each query takes about a second.
"""
import threading

from qgis.core import QgsDataSourceUri

from ..imis_plugin import db
from . import lookups as lookup_tables
from . import nearest_local
from .water_coverage import PIPE_DELETED, PIPE_LIVE, PIPE_MISSING
from .wards import ward_of_sql
from .zone_postgis import _describe as describe_database

PIPE_KEY = "code"
RECORDED_FIELD = "watersupply_pipe_code"
SOURCE_FIELD = "water_source_id"
POPULATION_FIELD = "population_served"


def _sql():
    from psycopg2 import sql

    return sql


def _live_pipes(request, params):
    """SQL for the CTE `src`: the live pipes of the layer (filter and selection apply)."""
    sql = _sql()
    pipes = request.pipes.postgis
    where, p = pipes.conditions("s", "pipe_keys")
    params.update(p)
    g = sql.Identifier(pipes.geometry_column)
    return sql.SQL(
        "src AS MATERIALIZED (SELECT s.{key}::text AS key, s.{g} AS geom FROM {rows} WHERE {where} "
        "AND s.{g} IS NOT NULL AND NOT ST_IsEmpty(s.{g}))"
    ).format(key=sql.Identifier(PIPE_KEY), g=g, rows=pipes.rows("s"), where=where)


def near_query(request):
    """(SQL, parameters): target_key (BIN), source_key (pipe code), distance; and the pipe count."""
    sql = _sql()
    bld = request.buildings.postgis
    params = {"distance": float(request.distance)}
    d = sql.Placeholder("distance")
    b_where, p = bld.conditions("b", "building_keys")
    params.update(p)
    targets = sql.SQL("SELECT b.bin AS key, b.{g} AS geom FROM {rows} WHERE {where}").format(
        g=sql.Identifier(bld.geometry_column), rows=bld.rows("b"), where=b_where)
    query = sql.SQL(
        "WITH {src}, pieces AS MATERIALIZED ({pieces}) "
        "SELECT n.target_key::text, n.source_key, n.distance FROM ({near}) n "
        "UNION ALL SELECT NULL, NULL, count(*) FROM src"
    ).format(src=_live_pipes(request, params), pieces=nearest_local.pieces_sql("src", d),
             near=nearest_local.nearest_sql("pieces", targets, d))
    return query, params


def buildings_query(request):
    """(SQL, parameters): one row per live building (footprint NULL: only the BIN)."""
    sql = _sql()
    pipes, bld = request.pipes.postgis, request.buildings.postgis
    params = {}
    key, pg = sql.Identifier(PIPE_KEY), sql.Identifier(pipes.geometry_column)
    # Recorded codes are checked against the whole pipe table: the layer's filter (often
    # "deleted_at IS NULL") must not turn a deleted pipe into a missing one.
    live = sql.SQL("r.{} IS NULL").format(sql.Identifier("deleted_at")) if pipes.has_live_field else sql.SQL("TRUE")
    ctes = [sql.SQL(
        "allpipes AS MATERIALIZED (SELECT DISTINCT ON (r.{key}) r.{key}::text AS code, {live} AS live, r.{g} AS geom "
        "FROM {rel} r WHERE r.{key} IS NOT NULL ORDER BY r.{key}, {live} DESC)"
    ).format(key=key, live=live, g=pg, rel=pipes.relation())]
    b_where, p = bld.conditions("b", "building_keys")
    params.update(p)
    bgeom = sql.Identifier(bld.geometry_column)

    def column(name):
        if request.buildings.field_index(name) < 0:
            return sql.SQL("NULL")
        return sql.SQL("b.{}").format(sql.Identifier(name))

    footprint = sql.SQL("b.{}").format(bgeom)
    recorded = sql.SQL("NULLIF(btrim({}::text), '')").format(column(RECORDED_FIELD))
    # A recorded pipe can be far away: measure in the frame halfway between the two.
    halfway = sql.SQL("(({} + {}) / 2)").format(nearest_local.centre_latitude_sql(footprint),
                                                 nearest_local.centre_latitude_sql(sql.SQL("r.geom")))
    distance = nearest_local.local_distance_sql(footprint, sql.SQL("r.geom"), halfway)
    query = sql.SQL(
        "WITH {ctes} SELECT * FROM ("
        # ST_Multi: the output layer is multi-polygon, so QGIS need not convert each footprint.
        "SELECT b.bin::text AS bin, ST_AsBinary(ST_Multi(b.{g})), {source}, {recorded}, {population}, "
        "CASE WHEN r.code IS NOT NULL THEN CASE WHEN r.live THEN {live_} ELSE {deleted} END "
        "WHEN {recorded} IS NOT NULL THEN {missing} END, "
        "CASE WHEN r.live AND r.geom IS NOT NULL AND NOT ST_IsEmpty(r.geom) THEN {distance} END "
        "FROM {rows} LEFT JOIN allpipes r ON r.code = {recorded} "
        "WHERE {where} AND b.{g} IS NOT NULL AND NOT ST_IsEmpty(b.{g}) "
        "UNION ALL SELECT b.bin::text, NULL, NULL, NULL, NULL, NULL, NULL "
        "FROM {rows} WHERE {where} AND (b.{g} IS NULL OR ST_IsEmpty(b.{g}))"
        # By BIN in byte order: the order of the output layer and of the workbook.
        ') u ORDER BY u.bin COLLATE "C"'
    ).format(ctes=sql.SQL(", ").join(ctes), g=bgeom, source=column(SOURCE_FIELD), recorded=recorded,
             population=column(POPULATION_FIELD), live_=sql.Literal(PIPE_LIVE),
             deleted=sql.Literal(PIPE_DELETED), missing=sql.Literal(PIPE_MISSING), distance=distance,
             rows=bld.rows("b"), where=b_where)
    return query, params


def wards_query(request):
    """(SQL, parameters): BIN and ward of every live building whose centroid lies in a ward."""
    sql = _sql()
    bld = request.buildings.postgis
    b_where, params = bld.conditions("b", "building_keys")
    params = dict(params)
    return sql.SQL("SELECT w.key::text, w.ward FROM ({}) w").format(
        ward_of_sql(request.wards.postgis, bld.rows("b"), b_where, sql.Identifier(bld.geometry_column), params)), params


def _open(uri):
    import psycopg2.extensions

    conn = db.connect_uri(QgsDataSourceUri(uri))
    conn.set_session(isolation_level=psycopg2.extensions.ISOLATION_LEVEL_REPEATABLE_READ, readonly=True)
    return conn


def _prepare(cursor):
    # JIT compiling costs more than it saves; the CTE sizes defeat the merge-join estimates.
    cursor.execute("SET LOCAL jit = off; SET LOCAL enable_mergejoin = off")


def _export_snapshot(conn):
    """The snapshot id of `conn`'s new transaction for a second connection, or None where it
    cannot be exported (the transaction then starts again)."""
    from psycopg2 import Error

    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT pg_export_snapshot()")
            return cursor.fetchone()[0]
    except Error:
        conn.rollback()
        return None


def _fetch(conn, query, feedback):
    with conn.cursor() as cursor:
        db.run_cancellable(cursor, *query, feedback)
        return cursor.fetchall()


def _run_queries(request, uri, feedback, on_rows):
    """(lookups, (building rows, BINs without footprint), near rows, ward rows).

    The "near" and "wards" queries run on their own connections, each sharing the first
    connection's snapshot (the same data, as in one transaction), at the same time as the
    "buildings" query; on_rows(building rows) runs as soon as those are in, while the others
    may still run. Where no snapshot can be exported, all run one after the other in one
    transaction.
    """
    jobs = {"near": near_query(request)}
    if request.wards is not None:
        jobs["wards"] = wards_query(request)
    main, others = _open(uri), []
    try:
        snapshot = _export_snapshot(main)
        with main.cursor() as cursor:
            _prepare(cursor)
            found = lookup_tables.read_postgres(cursor, names=("water_sources",))
        results, failures, threads = {}, [], []
        if snapshot is None:
            buildings = _buildings(main, request, feedback, on_rows)
            results = {name: _fetch(main, query, feedback) for name, query in jobs.items()}
        else:
            for name, query in jobs.items():
                conn = _open(uri)
                others.append(conn)
                with conn.cursor() as cursor:
                    cursor.execute("SET TRANSACTION SNAPSHOT %s", (snapshot,))
                    _prepare(cursor)

                def work(conn=conn, name=name, query=query):
                    try:
                        results[name] = _fetch(conn, query, feedback)
                    except Exception as error:  # noqa: BLE001 - raised again in the calling thread
                        failures.append(error)

                threads.append(threading.Thread(target=work, name=f"imis-water-supply-{name}", daemon=True))
                threads[-1].start()
            try:
                buildings = _buildings(main, request, feedback, on_rows)
            except BaseException:
                for conn in others:
                    conn.cancel()  # no use finishing the other queries
                raise
            finally:
                for thread in threads:
                    thread.join()
            if failures:
                raise failures[0]
        return found, buildings, results["near"], results.get("wards", [])
    finally:
        for conn in [main] + others:
            conn.rollback()
            conn.close()


def _buildings(conn, request, feedback, on_rows):
    """Rows of the live buildings with a footprint (and on_rows called on them); BINs without."""
    rows = _fetch(conn, buildings_query(request), feedback)
    null = [row[0] for row in rows if row[1] is None]
    if null:
        rows = [row for row in rows if row[1] is not None]
    if on_rows is not None:
        on_rows(rows)
    return rows, null


def run(request, uri, feedback, progress, on_rows=None):
    """Run `request` in the database at `uri` (a QGIS layer source); returns a CoverageData."""
    from .water_supply import CoverageData

    progress.step("select", "Measuring in the IMIS database (PostGIS)…")
    found, (rows, null), near, wards = _run_queries(request, uri, feedback, on_rows)
    pipes_used, nearest = 0, {}
    for bin_, code, distance in near:
        if bin_ is None:
            pipes_used = int(distance)
        else:
            nearest[bin_] = (code, distance)
    progress.step("read", f"{len(rows)} buildings read from the database.")
    return CoverageData(rows=rows, nearest=nearest, wards=dict(wards), water_sources=found.water_sources,
                        lookups_source=found.source, missing_lookups=found.missing, pipes_used=pipes_used,
                        execution="PostGIS", data_source=describe_database(uri), null_footprints=sorted(null))
