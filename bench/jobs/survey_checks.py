"""Survey checks on the Khulna-size PostGIS database (target: all checks under 30 s median).

Ours: imis:surveychecks with all 15 checks, and with the invalid-footprint check alone.
Stock: QGIS's own "Check validity" (GEOS method) on the same buildings layer, the nearest
stock tool (stock QGIS has no equivalent of the other checks).
"""
from common import PG_URI, emit, start_qgis, timed  # noqa: I001

start_qgis()
import processing  # noqa: E402
from qgis.core import QgsDataSourceUri, QgsProject, QgsVectorLayer  # noqa: E402

assert PG_URI, "run through bench/run.py"
uri = QgsDataSourceUri(PG_URI)
uri.setDataSource("building_info", "buildings", "geom", '"deleted_at" IS NULL', "bin")
layer = QgsVectorLayer(uri.uri(False), "Buildings", "postgres")
assert layer.isValid()
QgsProject.instance().addMapLayer(layer)


def ours(checks=None):
    params = {"BUILDINGS": layer, "OUTPUT": "memory:", "OUTPUT_AREAS": "memory:", "SUMMARY": "memory:"}
    if checks is not None:
        params["CHECKS"] = checks
    result = processing.run("imis:surveychecks", params)
    return {f["code"]: f["issues"] for f in result["SUMMARY"].getFeatures()}


def stock():
    result = processing.run("qgis:checkvalidity", {"INPUT_LAYER": layer, "METHOD": 2, "IGNORE_RING_SELF_INTERSECTION": False,
                                                    "VALID_OUTPUT": "memory:", "INVALID_OUTPUT": "memory:",
                                                    "ERROR_OUTPUT": "memory:"})
    return result["INVALID_COUNT"]


all_s, all_times, counts = timed(ours)
print("issues per check:", counts)
invalid_s, _, invalid_counts = timed(lambda: ours([0]))
stock_s, _, stock_invalid = timed(stock)
print(f"invalid footprints: ours {invalid_counts['FOOTPRINT_INVALID']}, stock {stock_invalid}")
assert invalid_counts["FOOTPRINT_INVALID"] == stock_invalid
emit("survey_checks", [
    {"case": "all 15 survey checks, PostGIS, 156,052 buildings", "ours_s": all_s, "target": "< 30 s"},
    {"case": "invalid footprints only (ours) vs Check validity, GEOS (stock)", "ours_s": invalid_s,
     "stock_s": stock_s},
], notes="All checks run in one read-only transaction in PostGIS; times include writing the issue "
         "layers. Stock QGIS only has the validity check; its run writes valid and invalid copies of "
         "every footprint.")
