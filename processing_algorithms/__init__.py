"""Processing algorithms of the `imis` provider, one module per analysis."""


def algorithm_classes():
    """Algorithm classes the provider registers (imported lazily: no work at import time)."""
    from .council_map import CouncilMapAlgorithm
    from .waterbody_buffer import WaterbodyBufferAlgorithm

    classes = [WaterbodyBufferAlgorithm, CouncilMapAlgorithm]
    from .connection_candidates import ConnectionCandidatesAlgorithm

    classes.append(ConnectionCandidatesAlgorithm)
    from .water_supply_coverage import WaterSupplyCoverageAlgorithm

    classes.append(WaterSupplyCoverageAlgorithm)
    from .point_buffer import PointBufferAlgorithm

    classes.append(PointBufferAlgorithm)
    from .survey_checks import SurveyChecksAlgorithm
    from .repair_geometries import RepairGeometriesAlgorithm

    classes.append(SurveyChecksAlgorithm)
    classes.append(RepairGeometriesAlgorithm)
    return classes
