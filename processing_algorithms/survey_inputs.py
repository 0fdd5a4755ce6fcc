"""Where a buildings layer comes from (PostGIS table or GeoPackage), read in the main thread.

Kept small and local to the survey tools so it can give way to the shared inputs
detection of the analysis core. Nothing here opens a connection.
"""
from dataclasses import dataclass, field

from qgis.core import (
    QgsDataSourceUri,
    QgsFeatureRequest,
    QgsProcessingException,
    QgsProcessingFeatureSourceDefinition,
    QgsProcessingUtils,
)

BUILDINGS_TABLE = ("building_info", "buildings")


@dataclass
class LayerSource:
    kind: str  # "postgres" or "gpkg"
    layer_name: str
    uri: str = ""  # PostGIS connection part (no credentials expanded), for db.connect_uri
    path: str = ""  # GeoPackage file
    table: str = ""
    selected_only: bool = False
    selected_bins: list = field(default_factory=list)
    editable: bool = False
    layer_id: str = ""


def selected_only(parameters, name):
    value = parameters.get(name)
    return isinstance(value, QgsProcessingFeatureSourceDefinition) and value.selectedFeaturesOnly


def input_layer(algorithm, parameters, name, context):
    """The vector layer behind a feature-source parameter, also when it is a source definition."""
    value = parameters.get(name)
    if isinstance(value, QgsProcessingFeatureSourceDefinition):
        return QgsProcessingUtils.mapLayerFromString(value.source.staticValue(), context)
    return algorithm.parameterAsVectorLayer(parameters, name, context)


def describe_buildings_layer(layer, selected, bin_field="bin"):
    """LayerSource of a buildings layer; raises a clear QgsProcessingException otherwise."""
    if layer is None:
        raise QgsProcessingException("No buildings layer given.")
    if layer.fields().indexOf(bin_field) < 0:
        raise QgsProcessingException(
            f"Layer '{layer.name()}' has no '{bin_field}' field: choose the IMIS buildings layer "
            "(building_info.buildings).")
    provider = layer.providerType()
    source = LayerSource(kind="", layer_name=layer.name(), selected_only=selected,
                         editable=layer.isEditable(), layer_id=layer.id())
    if provider == "postgres":
        uri = QgsDataSourceUri(layer.dataProvider().uri().uri(False))
        if (uri.schema(), uri.table()) != BUILDINGS_TABLE:
            raise QgsProcessingException(
                f"Layer '{layer.name()}' reads {uri.schema()}.{uri.table()}; choose a layer of the "
                "IMIS table building_info.buildings.")
        source.kind = "postgres"
        source.table = "building_info.buildings"
        uri.setDataSource("", "", None)  # keep only the connection part
        source.uri = uri.uri(False)
    elif provider == "ogr" and layer.source().split("|")[0].lower().endswith(".gpkg"):
        parts = layer.source().split("|")
        source.kind = "gpkg"
        source.path = parts[0]
        source.table = next((p.split("=", 1)[1] for p in parts[1:] if p.startswith("layername=")), "")
    else:
        raise QgsProcessingException(
            f"Layer '{layer.name()}' comes from a '{provider}' source. The survey tools work on "
            "the IMIS database (PostGIS) or an IMIS GeoPackage.")
    if selected:
        index = layer.fields().indexOf(bin_field)
        request = QgsFeatureRequest().setFlags(QgsFeatureRequest.NoGeometry).setSubsetOfAttributes([index])
        values = (f.attribute(index) for f in layer.getSelectedFeatures(request))
        source.selected_bins = sorted({str(v) for v in values if v is not None and str(v) not in ("", "NULL")})
    return source
