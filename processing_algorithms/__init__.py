"""Processing algorithms of the `imis` provider, one module per analysis."""


def algorithm_classes():
    """Algorithm classes the provider registers (imported lazily: no work at import time)."""
    from .waterbody_buffer import WaterbodyBufferAlgorithm

    classes = [WaterbodyBufferAlgorithm]
    from .connection_candidates import ConnectionCandidatesAlgorithm

    classes.append(ConnectionCandidatesAlgorithm)
    from .council_map import CouncilMapAlgorithm

    classes.append(CouncilMapAlgorithm)
    return classes
