"""The zone analysis in PostGIS: one read-only transaction, one analysis query, cancellable.

The query cuts the source features into pieces (nearest.pieces_sql), finds each building's
nearest piece within the distance through the GiST index on buildings.geom and measures on
geography (nearest.nearest_sql), picks containments through live links or, for unlinked ones,
by their own point, and returns everything in one result set tagged by `kind`:
B building, N building without footprint, C containment (one row per pair), S source, Z zone.
"""
import re

from qgis.core import QgsDataSourceUri, QgsGeometry

from ..imis_plugin import db
from . import excel, lookups as lookup_tables
from .nearest import metric_sql, nearest_sql, pieces_sql
from .records import BuildingRecord, ContainmentRecord, SourceRecord
from .zone import CONTAINMENT_FIELDS, ZoneResult


def _sql():
    from psycopg2 import sql

    return sql


def _exists(cursor, qualified):
    cursor.execute("SELECT to_regclass(%s) IS NOT NULL", (qualified,))
    return cursor.fetchone()[0]


def _columns(info, names):
    return [name for name in names if info.field_index(name) >= 0]


def _json_object(alias, names, extra=None):
    """json_build_object('col', alias.col, ...) for the given columns (NULL when none)."""
    sql = _sql()
    pairs = []
    for name in names:
        pairs += [sql.Literal(name), sql.SQL("{}.{}").format(sql.Identifier(alias), sql.Identifier(name))]
    if extra is not None:
        pairs += list(extra)
    if not pairs:
        return sql.SQL("NULL::json")
    return sql.SQL("json_build_object({})").format(sql.SQL(", ").join(pairs))


def build_query(request, has_links, has_owners):
    """(composed SQL, parameters) of the zone query for `request`."""
    sql = _sql()
    src, bld = request.sources.postgis, request.buildings.postgis
    ctn = request.containments.postgis if request.containments is not None else None
    params = {"distance": float(request.distance)}
    # IMIS mode measures distances slightly beyond d: the buffer's vertices lie on the circle.
    params["reach"] = float(request.distance) * 1.001 + 0.01 if request.imis_compatible else float(request.distance)
    d, reach = sql.Placeholder("distance"), sql.Placeholder("reach")

    src_where, p = src.conditions("s", "source_keys")
    params.update(p)
    kind_filter = sql.SQL("")
    if request.kinds is not None:
        kind_filter = sql.SQL(" AND lower(btrim(s.{}::text)) = ANY({})").format(
            sql.Identifier(request.source_kind), sql.Placeholder("kinds"))
        params["kinds"] = list(request.kinds)
    optional = {}
    for role, column in (("name", request.source_name), ("kind", request.source_kind)):
        optional[role] = (sql.SQL("s.{}::text").format(sql.Identifier(column))
                          if column and request.sources.field_index(column) >= 0 else sql.SQL("NULL::text"))
    sgeom = sql.Identifier(src.geometry_column)
    ctes = [sql.SQL(
        "src AS MATERIALIZED (SELECT s.{key} AS key, s.{g} AS geom, {name} AS name, {kind} AS kind "
        "FROM {rows} WHERE {where} AND s.{g} IS NOT NULL AND NOT ST_IsEmpty(s.{g}){kinds})"
    ).format(key=sql.Identifier(request.source_key), g=sgeom, name=optional["name"], kind=optional["kind"],
             rows=src.rows("s"), where=src_where, kinds=kind_filter)]
    ctes.append(sql.SQL("metric AS MATERIALIZED ({})").format(metric_sql("src")))
    ctes.append(sql.SQL("pieces AS MATERIALIZED ({})").format(pieces_sql("src", reach)))

    b_where, p = bld.conditions("b", "building_keys")
    params.update(p)
    bgeom = sql.Identifier(bld.geometry_column)
    targets = sql.SQL("SELECT b.bin AS key, b.{g} AS geom FROM {rows} WHERE {where}").format(
        g=bgeom, rows=bld.rows("b"), where=b_where)
    ctes.append(sql.SQL("near AS MATERIALIZED ({})").format(nearest_sql("pieces", targets, reach)))
    if request.imis_compatible:
        ctes.append(sql.SQL(
            "zone AS MATERIALIZED (SELECT ST_Buffer(ST_Union(geom)::geography, {d})::geometry AS geom FROM src)"
        ).format(d=d))
        ctes.append(sql.SQL(
            "hits AS MATERIALIZED (SELECT b.bin AS target_key, n.source_key, n.distance "
            "FROM {rows} CROSS JOIN zone z LEFT JOIN near n ON n.target_key = b.bin "
            "WHERE {where} AND b.{g} && z.geom AND ST_Intersects(b.{g}, z.geom))"
        ).format(rows=bld.rows("b"), where=b_where, g=bgeom))
    elif request.include_outside:
        ctes.append(sql.SQL(
            "hits AS MATERIALIZED (SELECT b.bin AS target_key, n.source_key, n.distance "
            "FROM {rows} LEFT JOIN near n ON n.target_key = b.bin "
            "WHERE {where} AND b.{g} IS NOT NULL AND NOT ST_IsEmpty(b.{g}))"
        ).format(rows=bld.rows("b"), where=b_where, g=bgeom))
    else:
        ctes.append(sql.SQL("hits AS (SELECT target_key, source_key, distance FROM near)"))

    building_columns = list(request.building_fields)
    if request.with_list:
        building_columns += list(excel.BUILDING_LIST_FIELDS)
    building_columns = _columns(request.buildings, dict.fromkeys(building_columns))
    owner = None
    if request.with_list and has_owners:
        owner = [sql.Literal("owner"), sql.SQL(
            "(SELECT {obj} FROM building_info.owners o WHERE o.bin = b.bin AND o.deleted_at IS NULL LIMIT 1)"
        ).format(obj=_json_object("o", excel.OWNER_FIELDS))]
    selects = [sql.SQL(
        "SELECT 'B'::text AS kind, h.target_key::text AS key, h.distance, h.source_key::text AS source_key, "
        "b.structure_type_id AS i1, b.sanitation_system_id AS i2, NULL::text AS link, ST_AsBinary(b.{g}) AS wkb, "
        "{attrs} AS attrs, ST_IsValid(b.{g}) AS flag "
        # LATERAL: an index lookup per hit; the planner's row estimate for hits is poor and
        # would otherwise hash the whole buildings table.
        "FROM hits h CROSS JOIN LATERAL (SELECT * FROM {rel} b WHERE b.bin = h.target_key OFFSET 0) b"
    ).format(g=bgeom, rel=bld.relation(), attrs=_json_object("b", building_columns, owner))]
    if request.find_null_footprints:
        selects.append(sql.SQL(
            "SELECT 'N', b.bin::text, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL "
            "FROM {rows} WHERE {where} AND (b.{g} IS NULL OR ST_IsEmpty(b.{g}))"
        ).format(rows=bld.rows("b"), where=b_where, g=bgeom))

    if ctn is not None:
        c_where, p2 = ctn.conditions("c", "containment_keys")
        params.update(p2)
        b_all, _ = bld.conditions("b", "unused", selection=False)
        cgeom = sql.Identifier(ctn.geometry_column)
        if has_links:
            # Only the links of containments that can matter (linked to a zone building, or in a
            # piece's box): a small zone then costs two scans of the links, not the whole town.
            ctes.append(sql.SQL(
                "lk AS MATERIALIZED (SELECT l.containment_id AS key FROM building_info.build_contains l "
                "WHERE l.deleted_at IS NULL AND l.bin IN (SELECT target_key FROM hits) "
                "UNION SELECT c.id FROM pieces p JOIN {crows} ON c.{g} && p.box WHERE {c_where})"
            ).format(crows=ctn.rows("c"), g=cgeom, c_where=c_where))
        if has_links and _only_live_filter(bld.subset):
            # Live links whose building is live. Few buildings are soft-deleted: excluding them is
            # cheaper than matching every live one (the foreign key guarantees the row exists).
            ctes.append(sql.SQL(
                "lc AS MATERIALIZED (SELECT l.containment_id, l.bin FROM building_info.build_contains l "
                "WHERE l.deleted_at IS NULL AND l.containment_id IS NOT NULL AND l.bin IS NOT NULL "
                "AND l.containment_id IN (SELECT key FROM lk) "
                "AND NOT EXISTS (SELECT 1 FROM {rel} b WHERE b.bin = l.bin AND NOT ({b_all})))"
            ).format(rel=bld.relation(), b_all=b_all))
        elif has_links:
            # Live links whose building is live in the buildings layer (its filter applies); LATERAL:
            # an index lookup per link, not a hash of the whole buildings table.
            ctes.append(sql.SQL(
                "lc AS MATERIALIZED (SELECT x.containment_id, x.bin FROM (SELECT l.containment_id, l.bin "
                "FROM building_info.build_contains l WHERE l.deleted_at IS NULL AND l.containment_id IS NOT NULL "
                "AND l.containment_id IN (SELECT key FROM lk) OFFSET 0) x "
                "CROSS JOIN LATERAL (SELECT 1 FROM {brows} WHERE b.bin = x.bin AND {b_all} LIMIT 1) b)"
            ).format(brows=bld.rows("b"), b_all=b_all))
        else:
            ctes.append(sql.SQL("lc AS (SELECT NULL::text AS containment_id, NULL::text AS bin WHERE FALSE)"))
        ctes.append(sql.SQL(
            "clinked AS MATERIALIZED (SELECT x.key, x.bin FROM (SELECT DISTINCT lc.containment_id AS key, lc.bin FROM lc "
            "JOIN hits h ON h.target_key = lc.bin {outside} OFFSET 0) x "
            "CROSS JOIN LATERAL (SELECT 1 FROM {crows} WHERE c.id = x.key AND {c_where} OFFSET 0) c)"
        ).format(crows=ctn.rows("c"), c_where=c_where,
                 outside=sql.SQL("AND h.distance IS NOT NULL" if request.include_outside else "")))
        unlinked = sql.SQL("SELECT c.id AS key, c.{g} AS geom FROM {crows} WHERE {c_where} "
                           "AND NOT EXISTS (SELECT 1 FROM lc WHERE lc.containment_id = c.id)").format(
            g=cgeom, crows=ctn.rows("c"), c_where=c_where)
        ctes.append(sql.SQL("cnear AS MATERIALIZED ({})").format(nearest_sql("pieces", unlinked, reach)))
        in_zone = sql.SQL("")
        if request.imis_compatible:
            in_zone = sql.SQL(" AND EXISTS (SELECT 1 FROM {crel} c CROSS JOIN zone z WHERE c.id = n.target_key "
                              "AND ST_Intersects(c.{g}, z.geom))").format(crel=ctn.relation(), g=cgeom)
        ctes.append(sql.SQL(
            "cown AS MATERIALIZED (SELECT n.target_key, n.distance FROM cnear n WHERE TRUE{in_zone})"
        ).format(in_zone=in_zone))
        ctes.append(sql.SQL(
            "served AS MATERIALIZED (SELECT lc.containment_id AS key, count(DISTINCT lc.bin)::int AS n FROM lc "
            "WHERE lc.containment_id IN (SELECT key FROM clinked) GROUP BY 1)"))
        containment_columns = _columns(request.containments, excel.CONTAINMENT_LIST_FIELDS) \
            if request.with_list else []
        selects.append(sql.SQL(
            "SELECT 'C', x.key::text, x.distance, NULL, c.type_id, COALESCE(s.n, 0), x.bin::text, "
            "ST_AsBinary(c.{g}), {attrs}, NULL "
            "FROM (SELECT key, bin, NULL::float8 AS distance FROM clinked "
            "UNION ALL SELECT target_key, NULL, distance FROM cown) x "
            "CROSS JOIN LATERAL (SELECT * FROM {crel} c WHERE c.id = x.key OFFSET 0) c LEFT JOIN served s ON s.key = x.key"
        ).format(g=cgeom, crel=ctn.relation(), attrs=_json_object("c", containment_columns)))

    selects.append(sql.SQL(
        "SELECT 'S', key::text, NULL, NULL, NULL, NULL, name, ST_AsBinary(geom), json_build_object('kind', kind), NULL "
        "FROM src"))
    if request.imis_compatible:
        selects.append(sql.SQL("SELECT 'Z', NULL, NULL, NULL, NULL, NULL, NULL, ST_AsBinary(geom), NULL, NULL "
                               "FROM zone"))
    query = sql.SQL("WITH {ctes} {selects}").format(
        ctes=sql.SQL(", ").join(ctes), selects=sql.SQL(" UNION ALL ").join(selects))
    return query, params


def _only_live_filter(subset):
    """True when a layer filter keeps exactly the live rows (or there is none), as "Load IMIS layers" sets it."""
    return not subset or re.sub(r'[\s"()]', "", subset).lower() == "deleted_atisnull"


def _geometry(wkb):
    if wkb is None:
        return None
    geometry = QgsGeometry()
    geometry.fromWkb(bytes(wkb))
    return geometry


def _typed_key(info, field_name):
    """Converts the text keys the query returns back to the key field's type."""
    index = info.field_index(field_name)
    if index >= 0 and info.fields.at(index).isNumeric():
        return lambda value: None if value is None else int(value)
    return lambda value: value


def run(request, uri, feedback, progress):
    """Run `request` in the database at `uri` (QGIS layer source); returns a ZoneResult."""
    for info in (request.buildings, request.containments):
        if info is not None:
            required = ("bin",) if info is request.buildings else CONTAINMENT_FIELDS
            info.require_fields(required)
    progress.step("select", "Selecting in the IMIS database (PostGIS)…")
    conn = db.connect_uri(QgsDataSourceUri(uri))
    try:
        conn.set_session(readonly=True)
        with conn.cursor() as cursor:
            # The planner cannot estimate the CTE sizes: hash joins are always right here (merge
            # joins would sort whole link tables), and JIT compiling costs more than it saves.
            cursor.execute("SET LOCAL jit = off; SET LOCAL enable_mergejoin = off")
            found = lookup_tables.read_postgres(cursor)
            has_links = _exists(cursor, "building_info.build_contains")
            has_owners = _exists(cursor, "building_info.owners")
            query, params = build_query(request, has_links, has_owners)
            db.run_cancellable(cursor, query, params, feedback)
            rows = cursor.fetchall()
        conn.rollback()
    finally:
        conn.close()
    progress.step("read", f"{len(rows)} result rows from the database.")
    result = ZoneResult(buildings=[], containments=[], sources=[], lookups=found, execution="PostGIS",
                        data_source=_describe(uri), links_found=has_links or request.containments is None)
    source_key = _typed_key(request.sources, request.source_key)
    containments = {}
    for number, (kind, key, distance, near_key, i1, i2, link, wkb, attrs, flag) in enumerate(rows):
        if number % 2000 == 0:
            progress.part(number, len(rows))
        if kind == "B":
            attributes = attrs or {}
            owner = attributes.pop("owner", None) if attributes else None
            if owner:
                result.owners[key] = owner
            in_zone = distance is not None or request.imis_compatible
            result.buildings.append(BuildingRecord(key, distance, source_key(near_key), i1, i2, _geometry(wkb),
                                                   attributes, in_zone))
            if flag is False:
                result.invalid_footprints.append(key)
        elif kind == "N":
            result.null_footprints.append(key)
        elif kind == "C":
            record = containments.get(key)
            if record is None:
                record = containments[key] = ContainmentRecord(key, i1, (), i2 or 0, distance, _geometry(wkb),
                                                               attrs or {})
            if link is not None:
                record.bins = tuple(sorted(record.bins + (link,)))
        elif kind == "S":
            result.sources.append(SourceRecord(source_key(key), link, (attrs or {}).get("kind"), _geometry(wkb)))
        elif kind == "Z":
            result.zone = _geometry(wkb)
    result.containments = sorted(containments.values(), key=lambda record: record.id)
    result.buildings.sort(key=lambda record: record.bin)
    result.null_footprints.sort()
    result.invalid_footprints.sort()
    return result


def _describe(uri):
    """The database, without credentials, for the Parameters sheet."""
    parsed = QgsDataSourceUri(uri)
    if parsed.service():
        where = f"service {parsed.service()}"
    else:
        where = (parsed.host() or "local socket") + (f":{parsed.port()}" if parsed.port() else "")
    return f"PostGIS database '{parsed.database()}' ({where})"
