"""Containment selection: live links through zone buildings, unlinked ones by their own point."""
from imis.processing_algorithms.containments import choose_containments, links_by_containment, pairs
from imis.processing_algorithms.records import ContainmentRecord


def test_links_ignore_deleted_or_unknown_buildings_and_duplicates():
    links = [("B1", "C1"), ("B1", "C1"), ("B2", "C1"), ("B9", "C2"), ("B3", None)]
    assert links_by_containment(links, {"B1", "B2", "B3"}) == {"C1": {"B1", "B2"}}


def test_choice_rules():
    linked = {"C1": {"B1", "B2"}, "C2": {"B3"}, "C4": {"B1"}}
    zone = {"B1", "B2"}
    asked = []

    def own(containment_id):
        asked.append(containment_id)
        return {"C3": 12.5}.get(containment_id)

    chosen = choose_containments(["C3", "C1", "C2", "C5", "C4", "C1"], linked, zone, own)
    assert [(c.id, c.bins, c.served, c.distance) for c in chosen] == [
        ("C1", ("B1", "B2"), 2, None),  # shared by two zone buildings: once, both BINs
        ("C3", (), 0, 12.5),  # unlinked, own point within the distance
        ("C4", ("B1",), 1, None),
    ]
    # C2 is linked (to a building outside the zone): its own point is never asked.
    assert sorted(asked) == ["C3", "C5"]


def test_pairs_ordered_by_id_then_bin_with_unlinked_rows_without_bin():
    records = [ContainmentRecord("C2", 1, (), 0, 3.0), ContainmentRecord("C1", 1, ("B2", "B1"), 2)]
    assert [(record.id, bin_) for record, bin_ in pairs(records)] == [("C1", "B1"), ("C1", "B2"), ("C2", None)]
