"""Processing algorithms of the `imis` provider, one module per analysis."""


def algorithm_classes():
    """Algorithm classes the provider registers (imported lazily: no work at import time)."""
    from .connection_candidates import ConnectionCandidatesAlgorithm
    from .council_map import CouncilMapAlgorithm
    from .point_buffer import PointBufferAlgorithm
    from .repair_geometries import RepairGeometriesAlgorithm
    from .survey_checks import SurveyChecksAlgorithm
    from .water_supply_coverage import WaterSupplyCoverageAlgorithm
    from .waterbody_buffer import WaterbodyBufferAlgorithm

    return [
        WaterbodyBufferAlgorithm,
        ConnectionCandidatesAlgorithm,
        WaterSupplyCoverageAlgorithm,
        PointBufferAlgorithm,
        CouncilMapAlgorithm,
        SurveyChecksAlgorithm,
        RepairGeometriesAlgorithm,
    ]
