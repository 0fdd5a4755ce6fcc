"""Processing algorithms of the `imis` provider, one module per analysis."""


def algorithm_classes():
    """Algorithm classes the provider registers (imported lazily: no work at import time)."""
    from .council_map import CouncilMapAlgorithm
    from .waterbody_buffer import WaterbodyBufferAlgorithm

    classes = [WaterbodyBufferAlgorithm, CouncilMapAlgorithm]
    return classes
