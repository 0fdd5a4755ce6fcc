"""Water supply coverage of the whole Khulna-size city at 50 m, PostGIS source (issue 5).

Ours: imis:watersupplycoverage on the live PostGIS layers (pipes, buildings, wards), every
output in memory, without and with the workbook.
Stock: what a GIS officer would do with QGIS's own tools on the same layers: reproject the
buildings and pipes to UTM 45N, join attributes by nearest (one pipe, at most 50 m), field
calculator for the status class, centroids, join attributes by location (ward), statistics by
categories (ward x status). The status class counts of both ways are printed (they may differ
by a few buildings right at 50 m: the stock way measures in UTM without its scale factor).
"""
import os  # noqa: I001
import tempfile

from common import DSN, PG_URI, emit, start_qgis, timed

start_qgis()
import processing  # noqa: E402
import psycopg2  # noqa: E402
from qgis.core import (QgsDataSourceUri, QgsFeatureRequest, QgsProcessingContext,  # noqa: E402
                       QgsProcessingFeedback, QgsProject, QgsVectorLayer)

assert DSN, "run through bench/run.py"
DISTANCE = 50.0
project = QgsProject.instance()


def layer(schema, table, key, title):
    uri = QgsDataSourceUri(PG_URI)
    uri.setDataSource(schema, table, "geom", '"deleted_at" IS NULL', key)
    result = QgsVectorLayer(uri.uri(False), title, "postgres")
    assert result.isValid(), title
    project.addMapLayer(result)
    return result


buildings = layer("building_info", "buildings", "bin", "Buildings")
pipes = layer("utility_info", "water_supplys", "code", "Water supply pipes")
wards = layer("layer_info", "wards", "ward", "Wards")
with psycopg2.connect(DSN) as conn, conn.cursor() as cur:
    cur.execute("SELECT id FROM building_info.water_sources WHERE source ILIKE '%%municipal%%'")
    municipal = [row[0] for row in cur.fetchall()]
workbook = os.path.join(tempfile.mkdtemp(prefix="imis-bench-"), "coverage.xlsx")


def ours(xlsx=False):
    params = {"PIPES": pipes, "BUILDINGS": buildings, "WARDS": wards, "DISTANCE": DISTANCE,
              "OUTPUT_BUILDINGS": "memory:", "OUTPUT_WARDS": "memory:", "OUTPUT_SUMMARY": "memory:"}
    if xlsx:
        params["OUTPUT_XLSX"] = workbook
    result = processing.run("imis:watersupplycoverage", params)
    return {key: result[key] for key in ("CONNECTED", "CONNECTED_NO_PIPE", "POTENTIAL", "OUT_OF_REACH")}


STATUS = (
    "CASE WHEN \"water_source_id\" IN ({ids}) OR \"watersupply_pipe_code\" IS NOT NULL "
    "THEN CASE WHEN \"pipe_code\" IS NOT NULL THEN 'CONNECTED' ELSE 'CONNECTED_NO_PIPE' END "
    "ELSE CASE WHEN \"pipe_code\" IS NOT NULL THEN 'POTENTIAL' ELSE 'OUT_OF_REACH' END END"
).format(ids=", ".join(str(i) for i in municipal) or "NULL")


def stock():
    # The town has a few invalid footprints, as real ones do: skip the check, as an officer would.
    context = QgsProcessingContext()
    context.setProject(project)
    context.setInvalidGeometryCheck(QgsFeatureRequest.GeometryNoCheck)
    feedback = QgsProcessingFeedback()

    def run(name, params):
        return processing.run(name, params, context=context, feedback=feedback)

    utm = "EPSG:32645"
    b = run("native:reprojectlayer", {"INPUT": buildings, "TARGET_CRS": utm, "OUTPUT": "memory:"})["OUTPUT"]
    p = run("native:reprojectlayer", {"INPUT": pipes, "TARGET_CRS": utm, "OUTPUT": "memory:"})["OUTPUT"]
    joined = run("native:joinbynearest", {"INPUT": b, "INPUT_2": p, "FIELDS_TO_COPY": ["code"],
                                          "DISCARD_NONMATCHING": False, "PREFIX": "pipe_", "NEIGHBORS": 1,
                                          "MAX_DISTANCE": DISTANCE, "OUTPUT": "memory:"})["OUTPUT"]
    classified = run("native:fieldcalculator", {"INPUT": joined, "FIELD_NAME": "status", "FIELD_TYPE": 2,
                                                "FIELD_LENGTH": 20, "FORMULA": STATUS, "OUTPUT": "memory:"})["OUTPUT"]
    centroids = run("native:centroids", {"INPUT": classified, "ALL_PARTS": False, "OUTPUT": "memory:"})["OUTPUT"]
    located = run("native:joinattributesbylocation", {"INPUT": centroids, "JOIN": wards, "PREDICATE": [0],
                                                      "JOIN_FIELDS": ["ward"], "METHOD": 1, "PREFIX": "",
                                                      "DISCARD_NONMATCHING": False, "OUTPUT": "memory:"})["OUTPUT"]
    table = run("qgis:statisticsbycategories", {"INPUT": located, "VALUES_FIELD_NAME": None,
                                                "CATEGORIES_FIELD_NAME": ["ward", "status"], "OUTPUT": "memory:"})["OUTPUT"]
    counts = {}
    for feature in table.getFeatures():
        counts[feature["status"]] = counts.get(feature["status"], 0) + int(feature["count"])
    return counts


ours_s, ours_runs, ours_counts = timed(ours)
xlsx_s, _, _ = timed(lambda: ours(xlsx=True))
stock_s, stock_runs, stock_counts = timed(stock)
print("status counts, ours: ", ours_counts)
print("status counts, stock:", stock_counts)
print("runs (s), ours:", [round(t, 2) for t in ours_runs], "stock:", [round(t, 2) for t in stock_runs])
emit("water_supply_coverage", [
    {"case": "whole city, 50 m, PostGIS (no workbook)", "ours_s": ours_s, "stock_s": stock_s,
     "target": "< 3 s, >= 4x"},
    {"case": "whole city, 50 m, PostGIS, with workbook", "ours_s": xlsx_s, "stock_s": stock_s},
], notes="Stock: reproject buildings and pipes to UTM 45N, join attributes by nearest (max 50 m), field calculator "
         "(status), centroids, join attributes by location (ward), statistics by categories (ward x status). Ours "
         "also checks pipe codes and writes the ward layer with percentages.")
