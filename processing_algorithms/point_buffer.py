"""imis:pointbuffer: buildings and containments within a distance of a point (ANALYSES.md 7.7).

IMIS's "Point Buffer Summary Information": click a point, give a distance, read the summary.
It is the water-body analysis with one point as its only source, so it is that algorithm with
another source parameter: the same zone analysis (PostGIS or QGIS path), summaries, outputs and
workbook. In PostGIS the point enters the query as two bound numbers (PointSql below).
"""
from dataclasses import dataclass

from qgis.core import (QgsFeature, QgsGeometry, QgsPointXY, QgsProcessingParameterPoint, QgsVectorLayer,
                       QgsVectorLayerFeatureSource, QgsWkbTypes)
from qgis.PyQt.QtCore import QVariant

from .errors import AnalysisError
from .inputs import InputLayer, PostgisTable
from .metric import WGS84
from .waterbody_buffer import WaterbodyBufferAlgorithm
from .zone import ZoneRequest

HELP = """<p>Finds the buildings and containments (septic tanks, pits) within a distance of a point,
counts them by structure type and by containment type as IMIS does, and can write the IMIS Excel
workbook: IMIS's "Point Buffer Summary Information". The IMIS toolbar's <i>Point buffer</i> tool
runs it on the point you click.</p>
<h3>What counts</h3>
<ul>
<li><b>Buildings</b>: a building is in the zone when its footprint lies within <i>Distance</i>
metres of the point (true geodesic distance on the WGS84 ellipsoid; a footprint containing the
point is at 0 m). Soft-deleted buildings never count.</li>
<li><b>Containments</b>: a containment is in the zone when a live building link ties it to a
building in the zone; a containment without any live link counts when its own point is within the
distance. Each containment is counted once.</li>
<li><b>Summary</b> (IMIS "Buildings Sheet"): one row per structure type, buildings without a
structure type in a blank row last, IMIS's ten sanitation columns and a Total row; only buildings
whose sanitation system is shown on the IMIS map (<code>map_display</code>) are counted, as in
IMIS.</li>
</ul>
<h3>Differences from IMIS</h3>
<ul>
<li>Exact distances: IMIS tests footprints against a 32-sided polygon drawn inside the circle, so it
misses buildings in the last 0.5 % of the distance. Tick <i>IMIS-compatible</i> (advanced) to use
IMIS's polygon; at 0 m that polygon is empty, so the algorithm then asks for a distance above 0.</li>
<li>IMIS highlights only buildings without a drain code and lists only buildings with a mapped
sanitation system in its "Buildings List"; this algorithm lists every live building in the zone
(the summary still counts as IMIS does). Any distance of 0 m or more is accepted, with decimals.</li>
</ul>
<p>When the buildings (and containments) are PostGIS layers of one IMIS database, the work runs in
the database (one read-only query; Cancel cancels it); otherwise in QGIS. Outputs as for
<i>Buildings and containments near water bodies</i>.</p>"""


@dataclass
class PointSql(PostgisTable):
    """The point as the source 'table' of the PostGIS zone query: one row (id 1, name, geom).

    Its coordinates travel as bound parameters: rows() names the placeholders and conditions()
    (which the zone query always calls for its sources) supplies their values.
    """

    x: float = 0.0
    y: float = 0.0
    label: str = ""

    def rows(self, alias):
        from psycopg2 import sql

        return sql.SQL("(SELECT 1::int AS id, {label}::text AS name, "
                       "ST_SetSRID(ST_MakePoint({x}, {y}), 4326) AS geom) AS {alias}").format(
            label=sql.Placeholder("point_label"), x=sql.Placeholder("point_x"), y=sql.Placeholder("point_y"),
            alias=sql.Identifier(alias))

    def conditions(self, alias, param_name, selection=True):
        from psycopg2 import sql

        return sql.SQL("TRUE"), {"point_x": self.x, "point_y": self.y, "point_label": self.label}


def point_label(point):
    return f"point {point.x():.6f}, {point.y():.6f}"


def point_source(point, buildings):
    """InputLayer of one point (EPSG:4326) for the zone analysis; main thread only.

    The memory layer serves the QGIS path; with PostGIS buildings the point goes into their
    database's query instead (same identity, so the zone analysis picks the PostGIS path).
    Returns (InputLayer, the memory layer to keep alive during the run).
    """
    layer = QgsVectorLayer("Point?crs=EPSG:4326&field=id:integer&field=name:string", "Point", "memory")
    feature = QgsFeature(layer.fields())
    feature.setAttributes([1, point_label(point)])
    feature.setGeometry(QgsGeometry.fromPointXY(point))
    layer.dataProvider().addFeatures([feature])
    source = QgsVectorLayerFeatureSource(layer)
    info = InputLayer(role="point", name=point_label(point), source=source, full_source=source, crs=WGS84,
                      fields=layer.fields(), geometry_type=QgsWkbTypes.PointGeometry, selected_only=False,
                      feature_count=1, provider="memory")
    if buildings.postgis is not None:
        table = buildings.postgis
        info.postgis = PointSql(uri=table.uri, identity=table.identity, schema="", table="", geometry_column="geom",
                                key_column="id", subset="", has_live_field=False, x=point.x(), y=point.y(),
                                label=point_label(point))
    return info, layer


class PointBufferAlgorithm(WaterbodyBufferAlgorithm):
    POINT = "POINT"

    HELP = HELP
    SOURCE_FIELD_PREFIX = "point"
    SOURCES_WORD = "points"
    SOURCES_OUTPUT = None
    NEAR = "the point"
    ANALYSIS = "Buildings and containments near a point (imis:pointbuffer)"
    IGNORED_WHEN_DELETED = "buildings, links and containments"
    METHOD_EXACT = "exact geodesic distance (footprint to the point, WGS84 ellipsoid)"
    METHOD_IMIS = ("IMIS-compatible: footprint intersects IMIS's buffer polygon ST_Buffer(point::geography, d) "
                   "(32 segments; misses up to 0.5 % of d at the rim)")

    def name(self):
        return "pointbuffer"

    def displayName(self):  # noqa: N802
        return "Buildings and containments near a point"

    def initAlgorithm(self, config=None):  # noqa: N802
        self.addParameter(QgsProcessingParameterPoint(self.POINT, "Point"))
        self._add_zone_parameters()

    def prepare(self, parameters, context, feedback):
        if parameters.get(self.POINT) in (None, ""):
            raise AnalysisError("Choose the point (click it on the map, or type x,y with its CRS).")
        point = self.parameterAsPoint(parameters, self.POINT, context, WGS84)
        given_crs = self.parameterAsPointCrs(parameters, self.POINT, context)
        if not (-180.0 <= point.x() <= 180.0 and -90.0 <= point.y() <= 90.0):
            raise AnalysisError(f"The point {point.x():g}, {point.y():g} is not a longitude/latitude once converted "
                                f"to EPSG:4326: check the point's CRS ({given_crs.authid() or 'none given'}).")
        buildings, containments = self._describe_targets(parameters, context)
        distance = self.parameterAsDouble(parameters, self.DISTANCE, context)
        imis = self.parameterAsBoolean(parameters, self.IMIS_COMPATIBLE, context)
        if imis and distance == 0:
            raise AnalysisError("IMIS's buffer of a point at 0 m is empty (no building could qualify). Give a "
                                "distance above 0 m, or turn off IMIS-compatible mode to get the building the point "
                                "lies in.")
        source, self._point_layer = point_source(QgsPointXY(point), buildings)
        self._point = QgsPointXY(point)
        self._given = (self.parameterAsPoint(parameters, self.POINT, context), given_crs)
        self._types_text = ""
        self._request = ZoneRequest(
            sources=source, buildings=buildings, containments=containments, distance=distance, source_key="id",
            source_name="name", imis_compatible=imis,
            with_list=bool(self.parameterAsFileOutput(parameters, self.OUTPUT_XLSX, context)))

    def _sources_text(self, result):
        return f"the point {self._point.x():.6f}, {self._point.y():.6f}"

    def _no_sources_message(self, request):
        return "The point could not be used."

    def _zone_columns(self, result):
        where = f"{self._point.x():.6f}, {self._point.y():.6f}"
        return [("target", QVariant.String, f"the point {where}"), ("point", QVariant.String, where)]

    def _source_rows(self, request, result):
        given, crs = self._given
        rows = [("Point (longitude, latitude; EPSG:4326)", f"{self._point.x():.6f}, {self._point.y():.6f}")]
        if crs.isValid() and crs != WGS84:
            rows.append(("Point as given", f"{given.x():.3f}, {given.y():.3f} ({crs.authid()})"))
        return rows
