"""Load IMIS layers from the Khulna-size PostGIS database and count their live rows.

Ours: the plugin's "Load IMIS layers" (styles, filters, lookup tables). Stock: the same ten
layers added by hand as PostGIS layers with a deleted_at filter, counted alike.
"""
from common import DSN, PG_URI, emit, start_qgis, timed  # noqa: I001

start_qgis()
from qgis.core import QgsDataSourceUri, QgsProject, QgsProviderRegistry, QgsVectorLayer  # noqa: E402
from imis.imis_plugin.layers import MAP_LAYERS, load_imis_layers  # noqa: E402

assert DSN, "run through bench/run.py"
md = QgsProviderRegistry.instance().providerMetadata("postgres")
md.saveConnection(md.createConnection(PG_URI, {}), "bench")
project = QgsProject.instance()


def ours():
    project.clear()
    layers, problems = load_imis_layers(connection_name="bench", project=project)
    assert not problems, problems
    return {key: layers[key].featureCount() for key in [spec.key for spec in MAP_LAYERS]}


def stock():
    project.clear()
    counts = {}
    for spec in MAP_LAYERS:
        uri = QgsDataSourceUri(PG_URI)
        uri.setDataSource(spec.schema, spec.table, spec.geometry, spec.subset, spec.primary_key)
        layer = QgsVectorLayer(uri.uri(False), spec.title, "postgres")
        project.addMapLayer(layer)
        counts[spec.key] = layer.featureCount()
    return counts


ours_s, _, ours_counts = timed(ours)
stock_s, _, stock_counts = timed(stock)
assert ours_counts == stock_counts, (ours_counts, stock_counts)
print("live rows:", ours_counts)
emit("load_layers", [{"case": "load 10 IMIS layers and count live rows", "ours_s": ours_s, "stock_s": stock_s}],
     notes="Ours also applies styles and adds the lookup tables; the stock way only adds the layers.")
