"""Layers an algorithm's worker thread owns, made from the user's layers without touching them.

A Processing algorithm that renders maps in the background must not draw the project's
layers: they belong to the main thread. `LayerRecipe.describe` runs in the main thread
(prepareAlgorithm): it notes how to open the layer again and takes a feature source, QGIS's
thread-safe snapshot of a layer's data. `LayerRecipe.open` runs in the worker thread and
either opens the same PostGIS table anew (the server then filters and uses its spatial index
for each page) or copies the snapshot's features into a memory layer with a spatial index.
Files are copied rather than reopened: a second connection to a GeoPackage the user has open
fails with "unable to open database file" once filters are involved (seen with QGIS 3.22 and
GDAL 3.6), and memory layers and selections cannot be reopened at all.
"""
import os

from qgis.core import (QgsDataSourceUri, QgsFeatureRequest, QgsFeatureSink, QgsProcessingException,
                       QgsProcessingFeatureSourceDefinition, QgsProcessingUtils, QgsVectorLayer,
                       QgsVectorLayerFeatureSource, QgsWkbTypes)

from ..imis_plugin.layers import KEY_PROPERTY

BATCH = 5000


class LayerRecipe:
    def __init__(self, layer, selected_only=False):
        """Main thread only."""
        self.name = layer.name()
        self.source = layer.source()
        self.provider = layer.providerType()
        self.imis_key = layer.customProperty(KEY_PROPERTY) or ""
        self.metadata_title = layer.metadata().title()
        self.fields = layer.fields()
        self.crs = layer.crs()
        self.wkb_type = layer.wkbType()
        self.geometry_type = layer.geometryType()
        self.selected = set(layer.selectedFeatureIds()) if selected_only else None
        self.copy = self.selected is not None or self.provider != "postgres"
        self.snapshot = QgsVectorLayerFeatureSource(layer)

    @classmethod
    def describe(cls, algorithm, parameters, name, context):
        """Main thread only. None when the optional parameter is not set."""
        value = parameters.get(name)
        if isinstance(value, QgsProcessingFeatureSourceDefinition):
            # parameterAsVectorLayer does not resolve a source definition ("selected features only").
            layer = QgsProcessingUtils.mapLayerFromString(value.source.staticValue(), context)
            if not isinstance(layer, QgsVectorLayer):
                raise QgsProcessingException(f"The layer {value.source.staticValue()} could not be found.")
            return cls(layer, value.selectedFeaturesOnly)
        layer = algorithm.parameterAsVectorLayer(parameters, name, context)
        return None if layer is None else cls(layer)

    def features(self, feedback=None, request=None, selection=True):
        """Worker thread: the snapshot's features (only the selection, if that was asked for)."""
        request = QgsFeatureRequest(request) if request is not None else QgsFeatureRequest()
        # A map draws what is there: an invalid footprint is drawn as stored, not a reason to stop.
        request.setInvalidGeometryCheck(QgsFeatureRequest.GeometryNoCheck)
        if selection and self.selected is not None:
            request.setFilterFids(list(self.selected))
        for feature in self.snapshot.getFeatures(request):
            if feedback is not None and feedback.isCanceled():
                return
            yield feature

    def open(self, feedback, title, subset="", selection=True):
        """Worker thread: a new layer only this thread uses; `subset` is an extra filter;
        `selection` False draws the whole layer even when only its selection was chosen."""
        if self.copy and (self.provider != "postgres" or selection):
            layer = self._copy(feedback, title, selection)
        else:
            layer = QgsVectorLayer(self.source, title, self.provider)
            if not layer.isValid():
                raise QgsProcessingException(
                    f"{self.name}: the layer's data source could not be opened again for the map "
                    f"({self.describe_source()}).")
        if subset:
            existing = layer.subsetString()
            if not layer.setSubsetString(f"({existing}) AND ({subset})" if existing else subset):
                raise QgsProcessingException(f"{self.name}: the filter {subset} could not be applied.")
        return layer

    def _copy(self, feedback, title, selection):
        layer = QgsVectorLayer(QgsWkbTypes.displayString(self.wkb_type), title, "memory")
        layer.setCrs(self.crs)
        provider = layer.dataProvider()
        provider.addAttributes(self.fields.toList())
        layer.updateFields()
        batch = []
        for feature in self.features(feedback, selection=selection):
            batch.append(feature)
            if len(batch) == BATCH:
                provider.addFeatures(batch, QgsFeatureSink.FastInsert)
                batch = []
        provider.addFeatures(batch, QgsFeatureSink.FastInsert)
        provider.createSpatialIndex()
        return layer

    def describe_source(self):
        """The data source in words, never with credentials."""
        return describe_source(self.source, self.provider)


def describe_source(source, provider):
    if provider == "postgres":
        uri = QgsDataSourceUri(source)
        where = uri.service() and f"service {uri.service()}" or (
            uri.host() if uri.host() and not uri.host().startswith("/") else "")
        return f"IMIS database {uri.database()}" + (f" ({where})" if where else "")
    if provider == "ogr":
        path = source.split("|", 1)[0]
        kind = "GeoPackage" if path.lower().endswith(".gpkg") else "file"
        return f"{kind} {os.path.basename(path)}"
    if provider == "memory":
        return "temporary layer"
    return provider
