"""The one exception type analyses raise for problems the user must see as they are."""


class AnalysisError(Exception):
    """Bad input or an unusable source: the message names the layer, field or value."""
