"""'Load IMIS layers': the IMIS layers in one layer-tree group, from PostGIS or a GeoPackage.

Every layer gets the style file of the same name in styles/ and a live-rows filter
(DATABASE.md §13: the plugin reads only rows with deleted_at IS NULL). Lookup tables are
added to the project without a layer-tree node, so forms can use them without clutter.
"""
import os
from dataclasses import dataclass

from qgis.core import QgsDataSourceUri, QgsProject, QgsVectorLayer

from . import db

STYLE_DIR = os.path.join(os.path.dirname(os.path.dirname(__file__)), "styles")
GROUP_NAME = "IMIS"
KEY_PROPERTY = "imis/layer"

LIVE = '"deleted_at" IS NULL'
# `type` is free text of at most 10 characters: compare trimmed and case-insensitively.
RIVER = "lower(trim(\"type\")) = 'river'"


@dataclass(frozen=True)
class LayerSpec:
    key: str
    title: str
    schema: str
    table: str
    primary_key: str
    extra_filter: str = ""
    geometry: str = "geom"

    @property
    def qualified(self):
        return f"{self.schema}.{self.table}"

    @property
    def subset(self):
        return LIVE if not self.extra_filter else f"{LIVE} AND {self.extra_filter}"

    @property
    def style_path(self):
        return os.path.join(STYLE_DIR, f"{self.key}.qml")


# Top of the layer tree first.
MAP_LAYERS = (
    LayerSpec("containments", "Containments", "fsm", "containments", "id"),
    LayerSpec("buildings", "Buildings", "building_info", "buildings", "bin"),
    LayerSpec("water_supply", "Water supply pipes", "utility_info", "water_supplys", "code"),
    LayerSpec("sewers", "Sewers", "utility_info", "sewers", "code"),
    LayerSpec("drains", "Drains", "utility_info", "drains", "code"),
    LayerSpec("roads", "Roads", "utility_info", "roads", "code"),
    LayerSpec("rivers", "Rivers", "layer_info", "waterbodys", "id", RIVER),
    LayerSpec("ponds", "Ponds and other water bodies", "layer_info", "waterbodys", "id", f"NOT ({RIVER})"),
    LayerSpec("wards", "Wards", "layer_info", "wards", "ward"),
    LayerSpec("city", "City boundary", "layer_info", "citypolys", "id"),
)

# Tables without soft delete have no filter; the others are filtered like map layers.
LOOKUP_LAYERS = (
    LayerSpec("structure_types", "structure_types", "building_info", "structure_types", "id", geometry=""),
    LayerSpec("functional_uses", "functional_uses", "building_info", "functional_uses", "id", geometry=""),
    LayerSpec("use_categorys", "use_categorys", "building_info", "use_categorys", "id", geometry=""),
    LayerSpec("sanitation_systems", "sanitation_systems", "building_info", "sanitation_systems", "id", geometry=""),
    LayerSpec("water_sources", "water_sources", "building_info", "water_sources", "id", geometry=""),
    LayerSpec("containment_types", "containment_types", "fsm", "containment_types", "id", geometry=""),
    LayerSpec("owners", "owners", "building_info", "owners", "id", geometry=""),
    LayerSpec("build_contains", "build_contains", "building_info", "build_contains", "id", geometry=""),
    LayerSpec("low_income_communities", "low_income_communities", "layer_info", "low_income_communities", "id"),
    LayerSpec("toilets", "toilets", "fsm", "toilets", "id"),
    LayerSpec("build_toilets", "build_toilets", "fsm", "build_toilets", "id", geometry=""),
    # Live main buildings, for the building form's "BIN of Main Building" picker: a plain layer
    # (no joins, no geometry) that the picker can search without loading 150 000 features.
    LayerSpec("main_buildings", "main_buildings", "building_info", "buildings", "bin",
              '"building_associated_to" IS NULL', geometry=""),
)
_UNFILTERED = {"structure_types", "functional_uses", "use_categorys", "sanitation_systems",
               "water_sources", "containment_types"}


def _postgis_layer(spec, base_uri):
    uri = QgsDataSourceUri(base_uri.uri(False))  # keep authcfg as a reference, never expand it
    subset = "" if spec.key in _UNFILTERED else spec.subset
    uri.setDataSource(spec.schema, spec.table, spec.geometry or None, subset, spec.primary_key)
    if spec.geometry:
        uri.setSrid("4326")
    return QgsVectorLayer(uri.uri(False), spec.title, "postgres")


def _gpkg_layer(spec, path):
    # The filter goes into the URI: setSubsetString() on a second layer of the same GeoPackage
    # leaves SQLite unable to open the file under QGIS 3.22 / GDAL 3.6 with a fresh profile.
    subset = "" if spec.key in _UNFILTERED else f"|subset={spec.subset}"
    return QgsVectorLayer(f"{path}|layername={spec.table}{subset}", spec.title, "ogr")


def _make_layers(specs, connection_name=None, gpkg_path=None):
    if (connection_name is None) == (gpkg_path is None):
        raise ValueError("give either a saved connection name or a GeoPackage path")
    base_uri = db.saved_connection_uri(connection_name) if connection_name else None
    layers, problems = [], []
    for spec in specs:
        layer = _postgis_layer(spec, base_uri) if base_uri else _gpkg_layer(spec, gpkg_path)
        if not layer.isValid():
            problems.append(f"{spec.title}: table {spec.qualified} could not be opened.")
            continue
        layer.setCustomProperty(KEY_PROPERTY, spec.key)
        if os.path.exists(spec.style_path):
            layer.loadNamedStyle(spec.style_path)
            layer.setName(spec.title)
        layers.append(layer)
    return layers, problems


def load_imis_layers(connection_name=None, gpkg_path=None, project=None):
    """Add the IMIS group to `project`; returns (map layers by key, problem messages)."""
    project = project or QgsProject.instance()
    map_layers, problems = _make_layers(MAP_LAYERS, connection_name, gpkg_path)
    lookup_layers, lookup_problems = _make_layers(LOOKUP_LAYERS, connection_name, gpkg_path)
    problems.extend(lookup_problems)

    root = project.layerTreeRoot()
    group = root.findGroup(GROUP_NAME) or root.insertGroup(0, GROUP_NAME)
    for layer in map_layers:
        project.addMapLayer(layer, False)
        group.addLayer(layer)
    for layer in lookup_layers:
        # In the project (forms can reach them) but not in the layer tree.
        project.addMapLayer(layer, False)
    by_key = {layer.customProperty(KEY_PROPERTY): layer for layer in map_layers + lookup_layers}
    from ..forms.setup import apply_forms

    problems.extend(apply_forms(by_key, project))
    return by_key, problems


def find_layer(key, project=None):
    """The project's IMIS layer with this key (as set by load_imis_layers), or None."""
    project = project or QgsProject.instance()
    for layer in project.mapLayers().values():
        if layer.customProperty(KEY_PROPERTY) == key:
            return layer
    return None
