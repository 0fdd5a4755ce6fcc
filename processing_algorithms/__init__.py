"""Processing algorithms of the `imis` provider, one module per analysis."""


def algorithm_classes():
    """Algorithm classes the provider registers (imported lazily: no work at import time)."""
    classes = []
    from .council_map import CouncilMapAlgorithm

    classes.append(CouncilMapAlgorithm)
    from .survey_checks import SurveyChecksAlgorithm
    from .repair_geometries import RepairGeometriesAlgorithm

    classes.append(SurveyChecksAlgorithm)
    classes.append(RepairGeometriesAlgorithm)
    return classes
