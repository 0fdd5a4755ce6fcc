"""Layers an algorithm's worker thread owns, made from the user's layers without touching them.

A Processing algorithm that renders maps in the background must not draw the project's
layers (they belong to the main thread). `LayerRecipe.describe` runs in the main thread
(prepareAlgorithm) and notes how to open a layer again; `LayerRecipe.open` runs in the
worker thread and either opens the same data source anew (files, PostGIS: cheap, and the
renderer keeps using the provider's spatial index) or, for memory layers and selections,
copies the features it reads through Processing's thread-safe feature source.
"""
import os
from dataclasses import dataclass

from qgis.core import (QgsDataSourceUri, QgsFeatureRequest, QgsFeatureSink, QgsProcessingException,
                       QgsProcessingFeatureSourceDefinition, QgsVectorLayer, QgsWkbTypes)


@dataclass(frozen=True)
class LayerRecipe:
    parameter: str
    name: str
    source: str
    provider: str
    copy: bool  # True: read the features through the feature source; False: open `source` anew
    metadata_title: str = ""

    @classmethod
    def describe(cls, algorithm, parameters, name, context):
        """Main thread only. None when the optional parameter is not set."""
        layer = algorithm.parameterAsVectorLayer(parameters, name, context)
        if layer is None:
            return None
        value = parameters.get(name)
        restricted = isinstance(value, QgsProcessingFeatureSourceDefinition) and (
            value.selectedFeaturesOnly or value.featureLimit not in (-1, None))
        copy = restricted or layer.providerType() != "postgres"
        return cls(name, layer.name(), layer.source(), layer.providerType(), copy, layer.metadata().title())

    def open(self, algorithm, parameters, context, feedback, title, subset=""):
        """Worker thread: a new layer only this thread uses; `subset` is an extra filter."""
        if self.copy:
            layer = self._copy(algorithm, parameters, context, feedback, title)
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

    def _copy(self, algorithm, parameters, context, feedback, title):
        source = algorithm.parameterAsSource(parameters, self.parameter, context)
        if source is None:
            raise QgsProcessingException(f"{self.name}: the layer could not be read.")
        geometry = QgsWkbTypes.displayString(source.wkbType())
        crs = source.sourceCrs().authid() or ""
        layer = QgsVectorLayer(f"{geometry}?crs={crs}" if crs else geometry, title, "memory")
        if not crs:
            layer.setCrs(source.sourceCrs())
        provider = layer.dataProvider()
        provider.addAttributes(source.fields().toList())
        layer.updateFields()
        total = source.featureCount()
        batch = []
        for i, feature in enumerate(source.getFeatures(QgsFeatureRequest())):
            if feedback.isCanceled():
                break
            batch.append(feature)
            if len(batch) == 5000:
                provider.addFeatures(batch, QgsFeatureSink.FastInsert)
                batch = []
                if total > 0:
                    feedback.setProgressText(f"Reading {self.name}: {i + 1} of {total} features")
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
