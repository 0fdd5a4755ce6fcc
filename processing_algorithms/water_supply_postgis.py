"""Water supply coverage in PostGIS: one read-only transaction, one cancellable query.

The query finds each live building's nearest live pipe within the distance with the shared
nearest-source SQL (nearest.pieces_sql / nearest_sql: pipes cut into pieces, GiST prefilter,
metres in the UTM zone corrected by the exact scale factor), its ward by footprint centroid
(wards.ward_of_sql) and the state of its recorded pipe code, and returns one row per building.
"""
from qgis.core import QgsDataSourceUri

from ..imis_plugin import db
from . import lookups as lookup_tables
from .metric import UTM_K0, tm_scale_sql
from .nearest import metric_sql, nearest_sql, pieces_sql
from .water_coverage import PIPE_DELETED, PIPE_LIVE, PIPE_MISSING, SupplyRecord
from .wards import ward_of_sql
from .zone_postgis import _describe as describe_database

PIPE_KEY = "code"
RECORDED_FIELD = "watersupply_pipe_code"
SOURCE_FIELD = "water_source_id"
POPULATION_FIELD = "population_served"


def build_query(request):
    """(composed SQL, parameters) for a CoverageRequest whose inputs are all in one database."""
    from psycopg2 import sql

    pipes, bld = request.pipes.postgis, request.buildings.postgis
    params = {"distance": float(request.distance)}
    d = sql.Placeholder("distance")
    p_where, p = pipes.conditions("s", "pipe_keys")
    params.update(p)
    pgeom = sql.Identifier(pipes.geometry_column)
    key = sql.Identifier(PIPE_KEY)
    ctes = [sql.SQL(
        "src AS MATERIALIZED (SELECT s.{key}::text AS key, s.{g} AS geom FROM {rows} WHERE {where} "
        "AND s.{g} IS NOT NULL AND NOT ST_IsEmpty(s.{g}))"
    ).format(key=key, g=pgeom, rows=pipes.rows("s"), where=p_where)]
    # Recorded codes are checked against the whole pipe table: the layer's filter (often
    # "deleted_at IS NULL") must not turn a deleted pipe into a missing one.
    live = sql.SQL("r.{} IS NULL").format(sql.Identifier("deleted_at")) if pipes.has_live_field else sql.SQL("TRUE")
    ctes.append(sql.SQL(
        "allpipes AS MATERIALIZED (SELECT DISTINCT ON (r.{key}) r.{key}::text AS code, {live} AS live, r.{g} AS geom "
        "FROM {rel} r WHERE r.{key} IS NOT NULL ORDER BY r.{key}, {live} DESC)"
    ).format(key=key, live=live, g=pgeom, rel=pipes.relation()))
    # One metric for the town: the UTM zone of all its pipes (also when none is live).
    ctes.append(sql.SQL("metric AS MATERIALIZED ({})").format(metric_sql("allpipes")))
    ctes.append(sql.SQL("pieces AS MATERIALIZED ({})").format(pieces_sql("src", d)))

    b_where, p = bld.conditions("b", "building_keys")
    params.update(p)
    bgeom = sql.Identifier(bld.geometry_column)
    targets = sql.SQL("SELECT b.bin AS key, b.{g} AS geom FROM {rows} WHERE {where}").format(
        g=bgeom, rows=bld.rows("b"), where=b_where)
    ctes.append(sql.SQL("near AS MATERIALIZED ({})").format(nearest_sql("pieces", targets, d)))
    ward_join = sql.SQL("")
    ward_column = sql.SQL("NULL::text")
    if request.wards is not None:
        ctes.append(sql.SQL("wardof AS MATERIALIZED ({})").format(
            ward_of_sql(request.wards.postgis, bld.rows("b"), b_where, bgeom, params)))
        ward_join = sql.SQL(" LEFT JOIN wardof wd ON wd.key = b.bin")
        ward_column = sql.SQL("wd.ward")

    def column(name):
        if request.buildings.field_index(name) < 0:
            return sql.SQL("NULL")
        return sql.SQL("b.{}").format(sql.Identifier(name))

    lon = sql.SQL("(ST_XMin(b.{g}) + ST_XMax(b.{g})) / 2").format(g=bgeom)
    lat = sql.SQL("(ST_YMin(b.{g}) + ST_YMax(b.{g})) / 2").format(g=bgeom)
    recorded = sql.SQL("NULLIF(btrim({}::text), '')").format(column(RECORDED_FIELD))
    query = sql.SQL(
        "WITH {ctes} "
        "SELECT b.bin::text, ST_AsBinary(b.{g}), n.source_key::text, n.distance, {source}, {recorded}, "
        "{population}, {ward}, "
        "CASE WHEN {recorded} IS NULL THEN NULL WHEN r.code IS NULL THEN {missing} "
        "WHEN r.live THEN {live} ELSE {deleted} END, "
        # The distance to the recorded pipe is needed only when it is not the nearest one.
        "CASE WHEN r.live AND r.code IS DISTINCT FROM n.source_key::text AND r.geom IS NOT NULL "
        "THEN ST_Distance(ST_Transform(b.{g}, m.srid), ST_Transform(r.geom, m.srid)) / {scale} END "
        "FROM {rows} LEFT JOIN near n ON n.target_key = b.bin{ward_join} "
        "LEFT JOIN allpipes r ON r.code = {recorded} CROSS JOIN metric m "
        "WHERE {where} AND b.{g} IS NOT NULL AND NOT ST_IsEmpty(b.{g}) "
        "UNION ALL SELECT b.bin::text, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL "
        "FROM {rows} WHERE {where} AND (b.{g} IS NULL OR ST_IsEmpty(b.{g}))"
    ).format(ctes=sql.SQL(", ").join(ctes), g=bgeom, source=column(SOURCE_FIELD), recorded=recorded,
             population=column(POPULATION_FIELD), ward=ward_column, missing=sql.Literal(PIPE_MISSING),
             live=sql.Literal(PIPE_LIVE), deleted=sql.Literal(PIPE_DELETED),
             scale=tm_scale_sql(lon, lat, sql.SQL("m.lon0"), UTM_K0), rows=bld.rows("b"), ward_join=ward_join,
             where=b_where)
    return query, params


def run(request, uri, feedback, progress):
    """Run `request` in the database at `uri` (a QGIS layer source); returns a CoverageData."""
    from .water_supply import CoverageData

    progress.step("select", "Measuring in the IMIS database (PostGIS)…")
    conn = db.connect_uri(QgsDataSourceUri(uri))
    try:
        conn.set_session(readonly=True)
        with conn.cursor() as cursor:
            # JIT compiling costs more than it saves; the CTE sizes defeat the merge-join estimates.
            cursor.execute("SET LOCAL jit = off; SET LOCAL enable_mergejoin = off")
            found = lookup_tables.read_postgres(cursor, names=("water_sources",))
            query, params = build_query(request)
            db.run_cancellable(cursor, query, params, feedback)
            rows = cursor.fetchall()
            cursor.execute(_count_live_pipes(request), request_params(request))
            pipes_used = cursor.fetchone()[0]
        conn.rollback()
    finally:
        conn.close()
    progress.step("read", f"{len(rows)} buildings read from the database.")
    data = CoverageData(records=[], water_sources=found.water_sources, lookups_source=found.source,
                        missing_lookups=found.missing, pipes_used=pipes_used, execution="PostGIS",
                        data_source=describe_database(uri))
    records = data.records
    for number, (bin_, wkb, nearest, distance, source, recorded, population, ward, state, recorded_distance) \
            in enumerate(rows):
        if number % 20000 == 0:
            progress.part(number, len(rows))
        if wkb is None:
            data.null_footprints.append(bin_)
            continue
        records.append(SupplyRecord(bin_, nearest, distance, source, recorded, population, ward, state,
                                    recorded_distance, wkb))
    records.sort(key=lambda record: record.bin)
    data.null_footprints.sort()
    return data


def _count_live_pipes(request):
    from psycopg2 import sql

    pipes = request.pipes.postgis
    where, _ = pipes.conditions("s", "pipe_keys")
    g = sql.Identifier(pipes.geometry_column)
    return sql.SQL("SELECT count(*) FROM {} WHERE {} AND s.{} IS NOT NULL AND NOT ST_IsEmpty(s.{})").format(
        pipes.rows("s"), where, g, g)


def request_params(request):
    _, params = request.pipes.postgis.conditions("s", "pipe_keys")
    return params


