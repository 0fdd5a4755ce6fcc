"""Which containments belong to a zone (ANALYSES.md 5, plugin rule).

A live containment is in the zone when a live build_contains link ties it to a live building
in the zone; a live containment with no live link to any live building is in the zone when
its own point is within the distance. Each containment is counted once; the Containment
List has one row per (containment, building) pair, ordered by containment id, then BIN.
"""
from dataclasses import dataclass

# Columns of building_info.build_contains the selection reads.
LINK_COLUMNS = ("bin", "containment_id")


@dataclass(frozen=True)
class ContainmentChoice:
    id: str
    bins: tuple  # zone BINs linked to it, sorted; empty when chosen by its own point
    served: int  # live buildings linked to it through live links
    distance: float = None  # own point's distance in metres (unlinked containments only)


def links_by_containment(links, live_bins):
    """{containment id: set of live BINs} from live link rows (bin, containment_id).

    Links to soft-deleted or unknown buildings do not count as links (the containment is
    then judged by its own point), and a pair linked twice counts once.
    """
    linked = {}
    for bin_, containment_id in links:
        if bin_ in live_bins and containment_id is not None:
            linked.setdefault(containment_id, set()).add(bin_)
    return linked


def choose_containments(candidate_ids, linked, zone_bins, own_distance, feedback=None):
    """The containments of the zone, in containment id order.

    candidate_ids: ids of the live containments considered (the CONTAINMENTS input).
    linked: {containment id: live BINs} (see links_by_containment).
    zone_bins: BINs of the live buildings in the zone.
    own_distance: callable(id) -> metres when the containment's own point is within the
    distance, else None; called only for containments without a live link.
    """
    chosen = []
    for containment_id in sorted(set(candidate_ids)):
        if feedback is not None and feedback.isCanceled():
            break
        bins = linked.get(containment_id)
        if bins:
            in_zone = tuple(sorted(bins & zone_bins))
            if in_zone:
                chosen.append(ContainmentChoice(containment_id, in_zone, len(bins)))
        else:
            distance = own_distance(containment_id)
            if distance is not None:
                chosen.append(ContainmentChoice(containment_id, (), 0, distance))
    return chosen


def pairs(containments):
    """(containment id, BIN or None) rows of the Containment List, ordered by id then BIN."""
    rows = []
    for record in sorted(containments, key=lambda record: record.id):
        if record.bins:
            rows.extend((record, bin_) for bin_ in sorted(record.bins))
        else:
            rows.append((record, None))
    return rows
