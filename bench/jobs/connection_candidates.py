"""Drain connection candidates at 30 m on the Khulna-size PostGIS town (imis:connectioncandidates).

Ours: the algorithm on the PostGIS layers (buildings, containments, drains), for one drain chosen
by code (the busiest) and for every drain. Stock: what a GIS officer would run in QGIS for the
same list: reproject the drains to UTM, buffer 30 m, extract buildings by location, reproject
them to UTM, join attributes by nearest (max 30 m), and keep the buildings not yet on a drain
(extract by expression). Both are checked to give the same buildings.
"""
from common import PG_URI, emit, start_qgis, timed  # noqa: I001

start_qgis()
import processing  # noqa: E402
from qgis.core import (  # noqa: E402
    QgsDataSourceUri,
    QgsProcessingContext,
    QgsProcessingFeatureSourceDefinition,
    QgsProcessingFeedback,
    QgsProject,
    QgsVectorLayer,
)

assert PG_URI, "run through bench/run.py"
project = QgsProject.instance()
LIVE = '"deleted_at" IS NULL'


def pg_layer(schema, table, key):
    uri = QgsDataSourceUri(PG_URI)
    uri.setDataSource(schema, table, "geom", LIVE, key)
    layer = QgsVectorLayer(uri.uri(False), table, "postgres")
    assert layer.isValid(), table
    project.addMapLayer(layer)
    return layer


drains = pg_layer("utility_info", "drains", "code")
buildings = pg_layer("building_info", "buildings", "bin")
containments = pg_layer("fsm", "containments", "id")
# the drain most live buildings name as theirs
counts = {}
for feature in buildings.getFeatures():
    if feature["drain_code"]:
        counts[feature["drain_code"]] = counts.get(feature["drain_code"], 0) + 1
live_codes = {feature["code"] for feature in drains.getFeatures()}
CODE = min((c for c in counts if c in live_codes), key=lambda c: (-counts[c], c))
UTM = "EPSG:32645"  # the sample town lies in UTM zone 45N


def context():
    ctx = QgsProcessingContext()
    ctx.setProject(project)
    return ctx


def ours(selected, with_containments=True):
    source = QgsProcessingFeatureSourceDefinition(drains.id(), True) if selected else drains
    ctx = context()
    extra = {"CONTAINMENTS": containments} if with_containments else {}
    results = processing.run("imis:connectioncandidates", {
        "NETWORK": source, "BUILDINGS": buildings, "DISTANCE": 30, "OUTPUT": "memory:", "OUTPUT_SUMMARY": "memory:",
        **extra}, context=ctx, feedback=QgsProcessingFeedback())
    assert results["EXECUTION"] == "PostGIS"
    layer = results["OUTPUT"]
    layer = layer if isinstance(layer, QgsVectorLayer) else ctx.takeResultLayer(layer)
    return {feature["bin"] for feature in layer.getFeatures()}


def stock(selected):
    ctx, feedback = context(), QgsProcessingFeedback()
    source = QgsProcessingFeatureSourceDefinition(drains.id(), True) if selected else drains

    def step(alg, params):
        return processing.run(alg, dict(params, OUTPUT="memory:"), context=ctx, feedback=feedback)["OUTPUT"]

    lines = step("native:reprojectlayer", {"INPUT": source, "TARGET_CRS": UTM})
    zone = step("native:buffer", {"INPUT": lines, "DISTANCE": 30, "SEGMENTS": 8, "DISSOLVE": False})
    near = step("native:extractbylocation", {"INPUT": buildings, "PREDICATE": [0], "INTERSECT": zone})
    near_utm = step("native:reprojectlayer", {"INPUT": near, "TARGET_CRS": UTM})
    joined = step("native:joinbynearest", {"INPUT": near_utm, "INPUT_2": lines, "FIELDS_TO_COPY": ["code"],
                                           "PREFIX": "drain_", "NEIGHBORS": 1, "MAX_DISTANCE": 30,
                                           "DISCARD_NONMATCHING": True})
    candidates = step("native:extractbyexpression", {
        "INPUT": joined, "EXPRESSION": "\"drain_code\" IS NULL AND coalesce(\"sanitation_system_id\", 0) <> 2"})
    return {feature["bin"] for feature in candidates.getFeatures()}


drains.selectByExpression(f"\"code\" = '{CODE}'")
one_s, _, one = timed(lambda: ours(True))
one_stock_s, _, one_stock = timed(lambda: stock(True))
drains.removeSelection()
all_s, _, every = timed(lambda: ours(False))
bare_s, _, every_bare = timed(lambda: ours(False, with_containments=False))
all_stock_s, _, every_stock = timed(lambda: stock(False), repeat=3)
# The stock chain buffers with polygons (misses the last 0.5 % of the distance) and has no
# containment rule: its list may differ by a handful of buildings, never by more.
for name, a, b in (("one drain", one, one_stock), ("every drain", every, every_stock)):
    print(f"{name}: ours {len(a)} candidates, stock {len(b)}; only ours {len(a - b)}, only stock {len(b - a)}")
    assert len(a ^ b) <= max(5, len(a) // 50), name
emit("connection_candidates", [
    {"case": f"one drain ({CODE}) at 30 m: {len(one)} candidates", "ours_s": one_s, "stock_s": one_stock_s,
     "target": "< 0.3 s, >= 4x"},
    {"case": f"every drain ({len(live_codes)}) at 30 m: {len(every)} candidates", "ours_s": all_s,
     "stock_s": all_stock_s, "target": "< 5 s, >= 4x"},
    {"case": f"every drain at 30 m, no containment layer (the stock chain's inputs): {len(every_bare)} candidates",
     "ours_s": bare_s, "stock_s": all_stock_s, "target": "< 5 s, >= 4x"},
], notes="PostGIS source; ours with the containment layer (containment-type rule, containment ids and types of each "
         "candidate) unless said otherwise; ours also builds the IMIS summary table. Stock: reproject drains to UTM, "
         "buffer 30 m, extract by location, reproject, join attributes by nearest (30 m), extract by expression "
         "(drain_code empty, not Drain Network); stock timed over 3 runs for every drain.")
