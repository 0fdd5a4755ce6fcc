"""The `imis` Processing provider."""
import os

from qgis.core import QgsProcessingProvider
from qgis.PyQt.QtGui import QIcon

ICON_PATH = os.path.join(os.path.dirname(os.path.dirname(__file__)), "icons", "imis.svg")


class ImisProvider(QgsProcessingProvider):
    def id(self):  # noqa: A003 (QGIS API)
        return "imis"

    def name(self):
        return "IMIS"

    def longName(self):
        return "IMIS: Integrated Municipal Information System (sanitation)"

    def icon(self):
        return QIcon(ICON_PATH)

    def loadAlgorithms(self):
        from ..processing_algorithms import algorithm_classes

        for algorithm_class in algorithm_classes():
            self.addAlgorithm(algorithm_class())
