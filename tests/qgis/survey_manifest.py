"""The sample town's planted defects (manifest["defects"]), mapped to the survey check codes."""
from dataclasses import dataclass

# Manifest code -> (survey check code, manifest keys the issue must name).
CODE_FOR = {
    "INVALID_FOOTPRINT": "FOOTPRINT_INVALID",
    "NULL_FOOTPRINT": "FOOTPRINT_MISSING",
    "DUPLICATE_FOOTPRINT": "FOOTPRINT_DUPLICATE",
    "OVERLAP": "FOOTPRINT_OVERLAP",
    "SLIVER": "FOOTPRINT_SLIVER",
    "OUTSIDE_CITY": "FOOTPRINT_OUTSIDE_CITY",
    "WARD_MISMATCH": "WARD_MISMATCH",
    "AREA_MISMATCH": "AREA_MISMATCH",
    "CONTAINMENT_FAR": "CONTAINMENT_FAR",
    "CONTAINMENT_UNLINKED": "CONTAINMENT_UNLINKED",
    "MISSING_CONTAINMENT": "CONTAINMENT_MISSING",
    "CODE_DELETED": "NETWORK_CODE_DELETED",
    "CODE_FAR": "NETWORK_CODE_FAR",
}
NAMED_KEYS = {
    "DUPLICATE_FOOTPRINT": ("bin", "other_bin"),
    "OVERLAP": ("bin", "other_bin"),
    "CONTAINMENT_FAR": ("containment_id", "bin"),
    "CONTAINMENT_UNLINKED": ("containment_id",),  # its former building, if any, is only context
    "CODE_DELETED": ("bin", "code"),
    "CODE_FAR": ("bin", "code"),
}


@dataclass
class Defect:
    kind: str
    ids: frozenset  # what the issue must name: BINs, containment id, network code
    record: dict


def planted(manifest):
    """Every planted defect, in manifest order."""
    out = []
    for kind, records in manifest["defects"].items():
        for record in records:
            keys = NAMED_KEYS.get(kind, ("bin",))
            out.append(Defect(kind, frozenset(str(record[k]) for k in keys), record))
    return out


def planted_bins(manifest, kind):
    return sorted(r["bin"] for r in manifest["defects"][kind])
