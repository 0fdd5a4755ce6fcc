"""What an analysis reads: input layers, where they live, and their companion IMIS tables.

describe() runs on the main thread (prepareAlgorithm): it takes everything the worker needs
from the layer (a thread-safe feature source snapshot, the selection, the PostGIS table or the
GeoPackage file behind it), so the worker thread never touches a layer.

When all inputs are PostGIS tables of one database (postgis_database()), an analysis runs in
SQL; otherwise it reads features through QGIS (read_features()).
"""
from dataclasses import dataclass, field

from qgis.core import (
    QgsDataSourceUri,
    QgsFeatureRequest,
    QgsProcessingFeatureSourceDefinition,
    QgsProject,
    QgsProviderRegistry,
    QgsVectorLayer,
    QgsVectorLayerFeatureSource,
    QgsVectorLayerSelectedFeatureSource,
    QgsWkbTypes,
)

from ..imis_plugin import db
from .errors import AnalysisError

LIVE_FIELD = "deleted_at"
LAYER_KEY_PROPERTY = "imis/layer"  # set on the layers "Load IMIS layers" adds (imis_plugin.layers)
# Companion IMIS tables: key as used by "Load IMIS layers" -> (PostGIS schema, table)
COMPANIONS = {
    "structure_types": ("building_info", "structure_types"),
    "sanitation_systems": ("building_info", "sanitation_systems"),
    "functional_uses": ("building_info", "functional_uses"),
    "water_sources": ("building_info", "water_sources"),
    "containment_types": ("fsm", "containment_types"),
    "build_contains": ("building_info", "build_contains"),
    "owners": ("building_info", "owners"),
}
GEOMETRY_NAMES = {QgsWkbTypes.PointGeometry: "points", QgsWkbTypes.LineGeometry: "lines",
                  QgsWkbTypes.PolygonGeometry: "polygons", QgsWkbTypes.NullGeometry: "no geometry"}


@dataclass
class PostgisTable:
    """A PostGIS layer's table, filter and selection, for building SQL."""

    uri: str  # the layer's data source (connection part used with imis_plugin.db)
    identity: tuple
    schema: str
    table: str
    geometry_column: str
    key_column: str
    subset: str
    selected_keys: list = None  # None: no selection restriction
    has_live_field: bool = True

    def relation(self):
        from psycopg2 import sql

        return sql.SQL("{}.{}").format(sql.Identifier(self.schema), sql.Identifier(self.table))

    def rows(self, alias):
        """SQL for FROM: the table as the layer shows it (its own filter applied), named `alias`.

        The layer's filter is the layer's own SQL, not a value; wrapping it in a subquery keeps
        its unqualified column names bound to this table (PostgreSQL flattens the subquery, so
        the table's indexes still serve).
        """
        from psycopg2 import sql

        if not self.subset:
            return sql.SQL("{} AS {}").format(self.relation(), sql.Identifier(alias))
        # psycopg2 would read a '%' of a LIKE pattern as a placeholder.
        return sql.SQL("(SELECT * FROM {} WHERE {}) AS {}").format(
            self.relation(), sql.SQL(self.subset.replace("%", "%%")), sql.Identifier(alias))

    def conditions(self, alias, param_name, selection=True):
        """SQL condition (and its parameters) for the live rows, and the selection when asked."""
        from psycopg2 import sql

        parts, params = [], {}
        if self.has_live_field:
            parts.append(sql.SQL("{}.{} IS NULL").format(sql.Identifier(alias), sql.Identifier(LIVE_FIELD)))
        if selection and self.selected_keys is not None:
            parts.append(sql.SQL("{}.{} = ANY({})").format(sql.Identifier(alias), sql.Identifier(self.key_column),
                                                           sql.Placeholder(param_name)))
            params[param_name] = list(self.selected_keys)
        if not parts:
            return sql.SQL("TRUE"), params
        return sql.SQL(" AND ").join(parts), params


@dataclass
class InputLayer:
    """A layer an analysis reads, as seen from the worker thread."""

    role: str  # e.g. "water body layer", for messages
    name: str
    source: object  # thread-safe QgsFeatureSource (only the selection when asked)
    full_source: object  # thread-safe QgsFeatureSource of the whole layer (its filter applies)
    crs: object
    fields: object
    geometry_type: int
    selected_only: bool
    feature_count: int  # -1 when unknown
    provider: str
    postgis: PostgisTable = None
    gpkg_path: str = None
    gpkg_table: str = None
    subset: str = ""
    companions: dict = field(default_factory=dict)  # key -> QgsFeatureSource from the project

    @property
    def has_live_field(self):
        return self.fields.lookupField(LIVE_FIELD) >= 0

    def field_index(self, name):
        return self.fields.lookupField(name)

    def missing_fields(self, names):
        return [name for name in names if self.fields.lookupField(name) < 0]

    def require_fields(self, names, purpose=""):
        missing = self.missing_fields(names)
        if missing:
            raise AnalysisError(
                f"The {self.role} '{self.name}' has no field {', '.join(missing)}"
                + (f" ({purpose})" if purpose else "")
                + ". Use the IMIS table (or a copy that keeps the IMIS field names)."
            )

    def require_geometry(self, allowed):
        if self.geometry_type not in allowed:
            expected = " or ".join(GEOMETRY_NAMES[kind] for kind in allowed)
            found = GEOMETRY_NAMES.get(self.geometry_type, "unknown geometry")
            raise AnalysisError(f"The {self.role} '{self.name}' has {found}; it must have {expected}.")


def _layer_and_selection(algorithm, parameters, name, context):
    value = parameters.get(name)
    selected_only = limited = False
    if isinstance(value, QgsProcessingFeatureSourceDefinition):
        selected_only = value.selectedFeaturesOnly
        limited = value.featureLimit > 0
        # parameterAsVectorLayer does not unwrap a source definition in QGIS 3.22.
        parameters = dict(parameters)
        parameters[name] = value.source.staticValue()
    layer = algorithm.parameterAsVectorLayer(parameters, name, context)
    return layer, selected_only, limited


def input_layer(algorithm, parameters, name, context):
    """The vector layer of parameter `name`, also when "Selected features only" is ticked (main thread)."""
    return _layer_and_selection(algorithm, parameters, name, context)[0]


def describe(algorithm, parameters, name, context, role):
    """InputLayer for feature-source parameter `name`, or None when it was left empty.

    Main thread only (call from prepareAlgorithm).
    """
    if parameters.get(name) in (None, ""):
        return None
    layer, selected_only, limited = _layer_and_selection(algorithm, parameters, name, context)
    if layer is None or not layer.isValid():
        raise AnalysisError(f"The {role} could not be opened ({parameters.get(name)!r}).")
    full_source = QgsVectorLayerFeatureSource(layer)
    if selected_only:
        if layer.selectedFeatureCount() == 0:
            raise AnalysisError(
                f"No feature is selected in the {role} '{layer.name()}', but \"Selected features only\" is on."
            )
        source = QgsVectorLayerSelectedFeatureSource(layer)
        count = layer.selectedFeatureCount()
    else:
        source = full_source
        # Counting a filtered PostGIS table scans it (a quarter of a second at city size); the
        # count only drives the QGIS path's progress bar, so PostGIS layers say "unknown" (-1).
        count = -1 if layer.providerType() == "postgres" else layer.featureCount()
    info = InputLayer(role=role, name=layer.name(), source=source, full_source=full_source, crs=layer.crs(), fields=layer.fields(),
                      geometry_type=layer.geometryType(), selected_only=selected_only, feature_count=count,
                      provider=layer.providerType())
    if not limited and not layer.isEditable() and not (layer.editBuffer() and layer.editBuffer().isModified()):
        info.postgis = _postgis_table(layer, selected_only)
    info.gpkg_path = _gpkg_path(layer)
    if info.gpkg_path:
        info.gpkg_table = QgsProviderRegistry.instance().decodeUri("ogr", layer.source()).get("layerName") or None
    info.subset = layer.subsetString()
    info.companions = _project_companions(context)
    return info


def _postgis_table(layer, selected_only):
    """The PostGIS table behind `layer`, when the SQL path can read it as the layer shows it."""
    if layer.providerType() != "postgres":
        return None
    uri = QgsDataSourceUri(layer.source())
    table = uri.table()
    if not table or table.startswith("(") or not uri.keyColumn() or '"' in uri.keyColumn():
        return None  # a query layer or a composite key: read it through QGIS
    if layer.geometryType() != QgsWkbTypes.NullGeometry and (layer.crs().authid() != "EPSG:4326"
                                                            or not uri.geometryColumn()):
        return None
    keys = None
    if selected_only:
        key_index = layer.fields().lookupField(uri.keyColumn())
        if key_index < 0:
            return None
        request = QgsFeatureRequest().setFilterFids(layer.selectedFeatureIds())
        request.setFlags(QgsFeatureRequest.NoGeometry).setSubsetOfAttributes([key_index])
        keys = [feature.attribute(key_index) for feature in layer.getFeatures(request)]
    return PostgisTable(
        uri=layer.source(), identity=db.database_identity(uri), schema=uri.schema() or "public", table=table,
        geometry_column=uri.geometryColumn(), key_column=uri.keyColumn(), subset=layer.subsetString(),
        selected_keys=keys, has_live_field=layer.fields().lookupField(LIVE_FIELD) >= 0,
    )


def _gpkg_path(layer):
    if layer.providerType() != "ogr":
        return None
    parts = QgsProviderRegistry.instance().decodeUri("ogr", layer.source())
    path = parts.get("path") or ""
    return path if path.lower().endswith(".gpkg") else None


def _project_companions(context):
    """Snapshots of the companion tables "Load IMIS layers" put into the project."""
    project = context.project() or QgsProject.instance()
    found = {}
    for layer in project.mapLayers().values():
        key = layer.customProperty(LAYER_KEY_PROPERTY)
        if key in COMPANIONS and key not in found and isinstance(layer, QgsVectorLayer) and layer.isValid():
            found[key] = QgsVectorLayerFeatureSource(layer)
    return found


def postgis_database(inputs):
    """The shared PostgisTable identity when every given input is a PostGIS table of one database."""
    given = [info for info in inputs if info is not None]
    if not given or any(info.postgis is None for info in given):
        return None
    identities = {info.postgis.identity for info in given}
    return given[0].postgis.uri if len(identities) == 1 else None


def live_request(info, attribute_names=(), geometry=True, extra_expression=None):
    """A QgsFeatureRequest for the live rows of `info` with only the named attributes."""
    request = QgsFeatureRequest()
    indexes = [info.field_index(name) for name in attribute_names if info.field_index(name) >= 0]
    request.setSubsetOfAttributes(indexes)
    if not geometry:
        request.setFlags(QgsFeatureRequest.NoGeometry)
    expressions = []
    if info.has_live_field:
        expressions.append(f'"{LIVE_FIELD}" IS NULL')
    if extra_expression:
        expressions.append(f"({extra_expression})")
    if expressions:
        request.setFilterExpression(" AND ".join(expressions))
    request.setInvalidGeometryCheck(QgsFeatureRequest.GeometryNoCheck)
    return request


def companion_source(anchors, key):
    """(QgsFeatureSource, where) of companion table `key`, looked for next to the inputs.

    Order: the GeoPackage or PostGIS database of the first anchor that has one, then the
    layers "Load IMIS layers" added to the project. Returns (None, None) when absent.
    """
    schema, table = COMPANIONS[key]
    for info in anchors:
        if info is None:
            continue
        if info.gpkg_path:
            layer = QgsVectorLayer(f"{info.gpkg_path}|layername={table}", table, "ogr")
            if layer.isValid():
                return QgsVectorLayerFeatureSource(layer), f"GeoPackage {info.gpkg_path}"
        if info.postgis is not None:
            uri = QgsDataSourceUri(info.postgis.uri)
            uri.setDataSource(schema, table, None, "", "")
            # The anchor's srid and geometry type would make QGIS read no row of a table without geometry.
            uri.setSrid("")
            uri.setWkbType(QgsWkbTypes.NoGeometry)
            layer = QgsVectorLayer(uri.uri(False), table, "postgres")
            if layer.isValid():
                return QgsVectorLayerFeatureSource(layer), f"database table {schema}.{table}"
    for info in anchors:
        if info is not None and key in info.companions:
            return info.companions[key], "the IMIS layers of the project"
    return None, None


def _sqlite_identifier(name):
    return '"' + name.replace('"', '""') + '"'


def _gpkg_rows(path, table, columns):
    """Live rows of a GeoPackage table straight through SQLite (a GeoPackage is an SQLite file);
    None when the table or a column is absent. Much faster than feature iteration for the
    link and lookup tables, which have no geometry."""
    import sqlite3

    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error:
        return None
    try:
        names = {row[1] for row in conn.execute("SELECT * FROM pragma_table_info(?)", (table,))}
        if not names or any(column not in names for column in columns):
            return None
        # Identifiers are IMIS table and column names checked against the file above (SQLite
        # has no identifier binding); no value is written into the SQL.
        query = "SELECT " + ", ".join(map(_sqlite_identifier, columns)) + " FROM " + _sqlite_identifier(table)
        if LIVE_FIELD in names:
            query += " WHERE " + _sqlite_identifier(LIVE_FIELD) + " IS NULL"
        return conn.execute(query).fetchall()
    except sqlite3.Error:
        return None
    finally:
        conn.close()


def gpkg_live_values(info, column, null_geometry=False):
    """Values of `column` in the live rows of a GeoPackage layer's table (its own filter applies),
    optionally only rows without geometry; None when SQLite cannot answer (then iterate)."""
    import sqlite3

    if not (info.gpkg_path and info.gpkg_table):
        return None
    try:
        conn = sqlite3.connect(f"file:{info.gpkg_path}?mode=ro", uri=True)
    except sqlite3.Error:
        return None
    try:
        geometry = conn.execute("SELECT column_name FROM gpkg_geometry_columns WHERE table_name = ?",
                                (info.gpkg_table,)).fetchone()
        # Identifiers are quoted names from the file; the layer's filter is its own SQLite SQL
        # (OGR hands GeoPackage filters to SQLite); no value is written into the SQL.
        query = "SELECT " + _sqlite_identifier(column) + " FROM " + _sqlite_identifier(info.gpkg_table) + " WHERE 1"
        if info.has_live_field:
            query += " AND " + _sqlite_identifier(LIVE_FIELD) + " IS NULL"
        if null_geometry:
            if geometry is None:
                return []
            query += " AND " + _sqlite_identifier(geometry[0]) + " IS NULL"
        if info.subset:
            query += " AND (" + info.subset + ")"
        return [row[0] for row in conn.execute(query)]
    except sqlite3.Error:
        return None
    finally:
        conn.close()


def companion_rows(anchors, key, columns, feedback=None):
    """Live rows (tuples of `columns`) of companion table `key`; None when it is not found."""
    for info in anchors:
        if info is not None and info.gpkg_path:
            rows = _gpkg_rows(info.gpkg_path, COMPANIONS[key][1], columns)
            if rows is not None:
                return rows, f"GeoPackage {info.gpkg_path}"
            break
    source, where = companion_source(anchors, key)
    if source is None:
        return None, None
    fields = source.fields()
    indexes = [fields.lookupField(column) for column in columns]
    if min(indexes) < 0:
        absent = [column for column, index in zip(columns, indexes) if index < 0]
        raise AnalysisError(f"The IMIS table {key} ({where}) has no column {', '.join(absent)}.")
    request = QgsFeatureRequest().setFlags(QgsFeatureRequest.NoGeometry).setSubsetOfAttributes(indexes)
    if fields.lookupField(LIVE_FIELD) >= 0:
        request.setFilterExpression(f'"{LIVE_FIELD}" IS NULL')
    rows = []
    for feature in source.getFeatures(request):
        if feedback is not None and feedback.isCanceled():
            break
        attributes = feature.attributes()
        rows.append(tuple(plain(attributes[index]) for index in indexes))
    return rows, where


_PLAIN_TYPES = frozenset({str, int, float, bool})


def plain(value):
    """A QGIS attribute value as plain Python (NULL -> None, QDate -> date)."""
    if value is None or type(value) in _PLAIN_TYPES:
        return value
    if hasattr(value, "isNull") and value.isNull():
        return None
    if hasattr(value, "toPyDateTime") and not hasattr(value, "toPyDate"):
        return value.toPyDateTime()
    if hasattr(value, "toPyDate"):
        return value.toPyDate()
    return value
