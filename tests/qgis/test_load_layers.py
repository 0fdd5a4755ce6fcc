"""'Load IMIS layers' on the real PostGIS sample town and on its GeoPackage."""
import pytest
from qgis.core import QgsProject

# Live-row oracles, written independently of the plugin's layer specs.
LIVE_COUNTS = {
    "containments": "SELECT count(*) FROM fsm.containments WHERE deleted_at IS NULL",
    "buildings": "SELECT count(*) FROM building_info.buildings WHERE deleted_at IS NULL",
    "water_supply": "SELECT count(*) FROM utility_info.water_supplys WHERE deleted_at IS NULL",
    "sewers": "SELECT count(*) FROM utility_info.sewers WHERE deleted_at IS NULL",
    "drains": "SELECT count(*) FROM utility_info.drains WHERE deleted_at IS NULL",
    "roads": "SELECT count(*) FROM utility_info.roads WHERE deleted_at IS NULL",
    "rivers": "SELECT count(*) FROM layer_info.waterbodys WHERE deleted_at IS NULL AND lower(trim(type)) = 'river'",
    "ponds": "SELECT count(*) FROM layer_info.waterbodys WHERE deleted_at IS NULL AND lower(trim(type)) <> 'river'",
    "wards": "SELECT count(*) FROM layer_info.wards WHERE deleted_at IS NULL",
    "city": "SELECT count(*) FROM layer_info.citypolys WHERE deleted_at IS NULL",
}


@pytest.fixture
def postgis_layers(qgis_app, imis_package, saved_connection, clean_project):
    from imis.imis_plugin.layers import load_imis_layers

    layers, problems = load_imis_layers(connection_name=saved_connection, project=clean_project)
    assert problems == []
    return layers


def test_postgis_layers_count_exactly_the_live_rows(postgis_layers, sample_db):
    for key, oracle in LIVE_COUNTS.items():
        (expected,), = sample_db.query(oracle)
        total, = sample_db.query(oracle.replace("deleted_at IS NULL AND ", "").replace(" WHERE deleted_at IS NULL", ""))
        assert postgis_layers[key].featureCount() == expected, key
    # The sample town really has soft-deleted rows, so the filter is doing something.
    (deleted,), = sample_db.query("SELECT count(*) FROM building_info.buildings WHERE deleted_at IS NOT NULL")
    assert deleted > 0


def test_layers_form_one_group_and_lookups_stay_out_of_the_tree(postgis_layers, clean_project):
    group = clean_project.layerTreeRoot().findGroup("IMIS")
    assert group is not None
    names = [node.name() for node in group.findLayers()]
    assert names == ["Containments", "Buildings", "Water supply pipes", "Sewers", "Drains", "Roads", "Rivers",
                     "Ponds and other water bodies", "Wards", "City boundary"]
    lookup = postgis_layers["structure_types"]
    assert clean_project.mapLayer(lookup.id()) is lookup
    assert clean_project.layerTreeRoot().findLayer(lookup.id()) is None
    assert lookup.featureCount() >= 4


def test_layers_carry_their_style_files(postgis_layers):
    symbol = postgis_layers["buildings"].renderer().symbol()
    assert symbol.color().name() == "#fdd49e"
    assert postgis_layers["wards"].labelsEnabled()


def test_layer_uris_hold_no_password(postgis_layers):
    for layer in postgis_layers.values():
        assert "password" not in layer.source().lower()


def test_geopackage_layers_count_the_same_as_postgis(qgis_app, imis_package, sample_gpkg, sample_db, clean_project):
    from imis.imis_plugin.layers import load_imis_layers

    layers, problems = load_imis_layers(gpkg_path=str(sample_gpkg), project=clean_project)
    assert problems == []
    for key, oracle in LIVE_COUNTS.items():
        (expected,), = sample_db.query(oracle)
        assert layers[key].featureCount() == expected, key


def test_plugin_menu_action_loads_the_chosen_database(imis_plugin, saved_connection, clean_project):
    from imis.imis_plugin import settings

    settings.set_connection_name(saved_connection)
    action = next(a for a in imis_plugin.actions if a.text() == "Load IMIS layers from the IMIS database")
    action.trigger()
    group = QgsProject.instance().layerTreeRoot().findGroup("IMIS")
    assert group is not None and len(group.findLayers()) == 10
