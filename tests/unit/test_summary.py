"""The IMIS "Buildings Sheet" and "Containments by Type" rules (ANALYSES.md 4 and 6.7)."""
from imis.processing_algorithms.summary import (
    BUILDING_HEADERS,
    CONTAINMENT_HEADERS,
    summarize_buildings,
    summarize_containments,
)

# Seeded labels (DATABASE.md 12.2 / 12.5), as a test fixture only: the code must not know them.
STRUCTURES = {1: "RCC framed", 2: "Load bearing", 3: "CGI Sheet", 4: "Wooden/Mud"}
SANITATION = {
    1: ("Sewer Network", True), 2: ("Drain Network", True), 3: ("Septic Tank", True),
    4: ("Pit/ Holding Tank", True), 5: ("Onsite Treatment (e.g., Anaerobic Digestor/ Biogas, DEWATS)", True),
    6: ("Composting Toilet (e.g., Ecosan, UDDT, etc.)", True), 7: ("Water Body", True), 8: ("Open Ground", True),
    9: ("Community Toilet", True), 10: ("Open Defecation", True), 11: ("Shared Septic Tank", False),
    12: ("Shared Toilet", True),
}


def test_headers_are_imis_verbatim():
    assert BUILDING_HEADERS == (
        "Structure Type", "Buildings", "Sewer Network", "Drain Network", "Septic Tank", "Pit / Holding Tank",
        "Onsite Treatment", "Composting Toilet", "Water Body", "Open Ground", "Community Toilet", "Open Defecation",
    )
    assert CONTAINMENT_HEADERS == ("Containment Type", "Containments")


def test_rows_by_structure_type_id_with_blank_row_last_and_total():
    buildings = [(3, 3), (1, 1), (None, 4), (3, 4), (1, 3), (1, 3), (None, 10)]
    summary = summarize_buildings(buildings, STRUCTURES, SANITATION)
    table = summary.table()
    assert table[0] == list(BUILDING_HEADERS)
    assert table[1] == ["RCC framed", 3, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0]
    assert table[2] == ["CGI Sheet", 2, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0]
    assert table[3] == ["", 2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1]
    assert table[4] == ["Total", 7, 1, 0, 3, 2, 0, 0, 0, 0, 0, 1]
    assert len(table) == 5
    assert summary.in_zone == 7 and summary.counted == 7 and summary.left_out == []


def test_map_display_rule_and_reasons_for_leaving_out():
    buildings = [(1, None), (1, None), (2, 11), (2, 3), (2, 99), (4, 12)]
    summary = summarize_buildings(buildings, STRUCTURES, SANITATION)
    assert summary.in_zone == 6
    assert summary.counted == 2
    assert summary.left_out_count == 4
    reasons = dict(summary.left_out)
    assert reasons["no sanitation system recorded"] == 2
    assert any("Shared Septic Tank" in reason and "map_display is false" in reason and count == 1
               for reason, count in summary.left_out)
    assert any("id 99" in reason for reason in reasons)
    # Shared Toilet (12) counts in Buildings only: Buildings exceeds the sum of the columns.
    wooden = [row for row in summary.rows if row.label == "Wooden/Mud"][0]
    assert wooden.counts[0] == 1 and sum(wooden.counts[1:]) == 0
    assert any("Shared Toilet" in note or "without a summary column" in note for note in summary.notes)
    text = " ".join(summary.explanation())
    assert "6 buildings in the zone" in text and "counts 2" in text


def test_map_display_null_is_not_shown():
    systems = dict(SANITATION)
    systems[3] = ("Septic Tank", None)
    summary = summarize_buildings([(1, 3)], STRUCTURES, systems)
    assert summary.counted == 0 and "not set" in summary.left_out[0][0]


def test_no_counted_building_gives_only_a_zero_total_row():
    summary = summarize_buildings([(1, 11)], STRUCTURES, SANITATION)
    assert summary.table() == [list(BUILDING_HEADERS), ["Total"] + [0] * 11]
    empty = summarize_buildings([], STRUCTURES, SANITATION)
    assert empty.table() == [list(BUILDING_HEADERS), ["Total"] + [0] * 11] and empty.in_zone == 0


def test_renamed_structure_types_are_used_as_labels():
    renamed = {1: "Pucca", 2: "Semi-pucca", 3: "Katcha", 4: "Under Construction"}
    table = summarize_buildings([(3, 4), (1, 3)], renamed, SANITATION).table()
    assert [row[0] for row in table[1:]] == ["Pucca", "Katcha", "Total"]


def test_structure_type_missing_from_lookup_goes_to_blank_row_with_a_note():
    summary = summarize_buildings([(7, 3), (None, 3), (1, 3)], STRUCTURES, SANITATION)
    assert [row.label for row in summary.rows] == ["RCC framed", ""]
    assert summary.rows[-1].counts[0] == 2
    assert any("id 7" in note for note in summary.notes)


def test_sanitation_ids_beyond_ten_count_only_in_buildings():
    systems = dict(SANITATION)
    systems[13] = ("Something new", True)
    summary = summarize_buildings([(1, 13)], STRUCTURES, systems)
    assert summary.table()[1] == ["RCC framed", 1] + [0] * 10


def test_containment_summary_ordered_by_type_id_with_blank_last():
    types = {1: "Septic Tank connected to Sewer Network", 3: "Septic Tank connected to Soak Pit", 9: "Permeable"}
    summary = summarize_containments([9, 3, 3, None, 1, 42], types)
    assert summary.table() == [
        ["Containment Type", "Containments"],
        ["Septic Tank connected to Sewer Network", 1],
        ["Septic Tank connected to Soak Pit", 2],
        ["Permeable", 1],
        ["", 2],
        ["Total", 6],
    ]
    assert summarize_containments([], types).table() == [["Containment Type", "Containments"], ["Total", 0]]
