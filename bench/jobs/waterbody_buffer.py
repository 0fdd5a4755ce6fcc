"""Buildings and containments near water bodies (imis:waterbodybuffer), Khulna size, 100 m.

Ours: the algorithm on the IMIS layers as "Load IMIS layers" gives them (PostGIS; then the
GeoPackage), all outputs to temporary layers, with and without the Excel workbook. Stock: the
chain a GIS officer would otherwise run on the same layers, timed alike in the same process:
reproject the water bodies to their UTM zone, buffer with dissolve, extract buildings by
location, statistics by categories (structure type x sanitation system). The stock chain does
less (no exact distances, no containments, no IMIS table), so the ratio is conservative.
"""
import tempfile  # noqa: I001
from pathlib import Path

from common import DSN, GPKG, PG_URI, emit, start_qgis, timed

start_qgis()
from qgis.core import QgsDataSourceUri, QgsProject, QgsProviderRegistry, QgsSettings, QgsVectorLayer  # noqa: E402
from imis.imis_plugin.layers import load_imis_layers  # noqa: E402

import processing  # noqa: E402

assert DSN, "run through bench/run.py"
# This QGIS/GDAL pair cannot open several filtered layers of one GeoPackage in WAL mode.
QgsSettings().setValue("qgis/walForSqlite3", False)
md = QgsProviderRegistry.instance().providerMetadata("postgres")
md.saveConnection(md.createConnection(PG_URI, {"saveUsername": True}), "bench")
project = QgsProject.instance()
OUT = Path(tempfile.mkdtemp(prefix="imis-bench-wb-"))
TEMP = "TEMPORARY_OUTPUT"
UTM = "EPSG:32645"  # the UTM zone of the Khulna-size town (a GIS officer picks it by hand)


def all_waterbodies(base):
    """All live water bodies (rivers and ponds) as one layer, like the rivers layer is loaded."""
    source = base["rivers"].source()
    if base["rivers"].providerType() == "postgres":
        uri = QgsDataSourceUri(source)
        uri.setSql('"deleted_at" IS NULL')
        layer = QgsVectorLayer(uri.uri(False), "Water bodies", "postgres")
    else:
        path = QgsProviderRegistry.instance().decodeUri("ogr", source)["path"]
        layer = QgsVectorLayer(f"{path}|layername=waterbodys|subset=\"deleted_at\" IS NULL", "Water bodies", "ogr")
    assert layer.isValid()
    project.addMapLayer(layer, False)
    return layer


def ours(waterbodies, base, workbook=None):
    def run():
        params = {"WATERBODIES": waterbodies, "BUILDINGS": base["buildings"], "CONTAINMENTS": base["containments"],
                  "DISTANCE": 100, "OUTPUT_BUILDINGS": TEMP, "OUTPUT_CONTAINMENTS": TEMP, "OUTPUT_ZONE": TEMP,
                  "OUTPUT_SUMMARY": TEMP, "OUTPUT_CONTAINMENT_SUMMARY": TEMP}
        if workbook:
            params["OUTPUT_XLSX"] = str(OUT / workbook)
        result = processing.run("imis:waterbodybuffer", params)
        return result["BUILDINGS_IN_ZONE"], result["CONTAINMENTS_IN_ZONE"], result["EXECUTION"]
    return run


def stock(waterbodies, base):
    def run():
        utm = processing.run("native:reprojectlayer", {"INPUT": waterbodies, "TARGET_CRS": UTM, "OUTPUT": TEMP})
        zone = processing.run("native:buffer", {"INPUT": utm["OUTPUT"], "DISTANCE": 100, "SEGMENTS": 8,
                                                "END_CAP_STYLE": 0, "JOIN_STYLE": 0, "MITER_LIMIT": 2,
                                                "DISSOLVE": True, "OUTPUT": TEMP})
        near = processing.run("native:extractbylocation", {"INPUT": base["buildings"], "PREDICATE": [0],
                                                            "INTERSECT": zone["OUTPUT"], "OUTPUT": TEMP})
        processing.run("qgis:statisticsbycategories", {
            "INPUT": near["OUTPUT"], "VALUES_FIELD_NAME": None,
            "CATEGORIES_FIELD_NAME": ["structure_type_id", "sanitation_system_id"], "OUTPUT": TEMP})
        return near["OUTPUT"].featureCount()
    return run


rows, notes = [], []


def measure(label, base, waterbodies, targets, with_workbook=True):
    ours_s, _, (buildings, containments, where) = timed(ours(waterbodies, base))
    stock_s, _, stock_buildings = timed(stock(waterbodies, base))
    rows.append({"case": f"{label}, no workbook ({where}; {buildings} buildings, {containments} containments)",
                 "ours_s": ours_s, "stock_s": stock_s, "target": targets[0]})
    notes.append(f"{label}: ours {buildings} buildings in the zone (exact), stock {stock_buildings} "
                 f"(buffer polygon with 8 segments per quarter circle).")
    if with_workbook:
        book_s, _, _ = timed(ours(waterbodies, base, "workbook.xlsx"))
        rows.append({"case": f"{label}, with the Excel workbook", "ours_s": book_s, "stock_s": stock_s,
                     "target": targets[1]})


project.clear()
pg, problems = load_imis_layers(connection_name="bench", project=project)
assert not problems, problems
measure("PostGIS, all rivers, 100 m", pg, pg["rivers"], ("<= 1.0 s and >= 4x", "<= 3 s"))
measure("PostGIS, all water bodies, 100 m", pg, all_waterbodies(pg), ("<= 2.5 s and >= 3x", "<= 12 s"))

project.clear()
gpkg, problems = load_imis_layers(gpkg_path=GPKG, project=project)
assert not problems, problems
measure("GeoPackage, all rivers, 100 m", gpkg, gpkg["rivers"], ("not slower than stock", ""), with_workbook=False)
measure("GeoPackage, all water bodies, 100 m", gpkg, all_waterbodies(gpkg), ("not slower than stock", ""),
        with_workbook=False)

emit("waterbody_buffer", rows, notes=" ".join(notes) + " Outputs go to temporary layers; the workbook to a file.")
