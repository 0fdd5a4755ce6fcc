"""What an analysis found, in one shape for both execution paths (PostGIS and QGIS).

The PostGIS path fills these from its query rows, the QGIS path from feature iteration; the
outputs, summaries and workbooks are then built once from them.
"""
from dataclasses import dataclass, field


@dataclass
class BuildingRecord:
    bin: str
    distance: float  # geodesic metres to the nearest source feature (None if not measured)
    source_key: object  # key of that nearest source feature (water body id, drain code, ...)
    structure_type_id: object
    sanitation_system_id: object
    geometry: object = None  # QgsGeometry in the buildings layer's CRS
    attributes: dict = field(default_factory=dict)  # IMIS column name -> value (Buildings List)
    in_zone: bool = True  # False only for the buildings beyond the distance a caller asked for


@dataclass
class ContainmentRecord:
    id: str
    type_id: object
    bins: tuple  # zone buildings linked through live links; empty when chosen by its own point
    served: int  # live buildings linked through live links ("Building Served")
    distance: float = None  # metres from its own point, when chosen by its own point
    geometry: object = None  # QgsGeometry in the containments layer's CRS
    attributes: dict = field(default_factory=dict)

    @property
    def chosen_by(self):
        return "linked building" if self.bins else "own point"


@dataclass
class SourceRecord:
    """A source feature that took part (a water body, a drain, a pipe)."""

    key: object
    name: str = None
    kind: str = None  # e.g. the water body's stored type
    geometry: object = None  # QgsGeometry in EPSG:4326
