"""Water supply coverage: what the analysis reads and returns, and where it runs.

run_coverage() measures every live building against the live pipes, in PostGIS when the
pipes, buildings and wards are PostGIS tables of one database (water_supply_postgis), else in
QGIS (water_supply_qgis). Both use the shared nearest-source and metric code, so a building's
nearest pipe and distance are the same as in the other analyses; the rules applied to the
results are in water_coverage.
"""
from dataclasses import dataclass, field


@dataclass
class CoverageRequest:
    pipes: object  # InputLayer of the water supply lines
    buildings: object  # InputLayer
    distance: float
    wards: object = None  # InputLayer or None
    all_pipes: object = None  # QgsFeatureSource of the whole pipe table, without the layer's filter


@dataclass
class CoverageData:
    rows: list  # one tuple per live building with a footprint, by BIN (layout: water_coverage.BIN, ...)
    nearest: dict  # BIN -> (code of the nearest live pipe within the distance, metres)
    wards: dict  # BIN -> ward whose polygon contains the footprint centroid
    water_sources: dict  # id -> label
    lookups_source: str = ""
    missing_lookups: list = field(default_factory=list)
    null_footprints: list = field(default_factory=list)  # BINs of live buildings without footprint
    pipes_used: int = 0  # live pipes with a geometry taken into account
    execution: str = ""
    data_source: str = ""


def run_coverage(request, context, feedback, progress, on_rows=None):
    """CoverageData of `request`. on_rows(rows), when given, is called with the building rows as
    soon as they are read (the PostGIS path may still be measuring distances meanwhile)."""
    from .inputs import postgis_database

    uri = postgis_database([request.pipes, request.buildings, request.wards])
    if uri is not None:
        from . import water_supply_postgis

        return water_supply_postgis.run(request, uri, feedback, progress, on_rows)
    from . import water_supply_qgis

    data = water_supply_qgis.run(request, context, feedback, progress)
    if on_rows is not None:
        on_rows(data.rows)
    return data

