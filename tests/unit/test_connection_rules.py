"""The connection-candidate rules: network kind, code field, sanitation names, 'already connected'."""
from imis.processing_algorithms import connection_rules as rules
from imis.processing_algorithms.records import BuildingRecord

# Seeded labels (DATABASE.md 12.5 / 12.7) as fixtures only: the code must not know them.
SANITATION = {1: "Sewer Network", 2: "Drain Network", 3: "Septic Tank", 4: "Pit/ Holding Tank",
              5: "Onsite Treatment (e.g., Anaerobic Digestor/ Biogas, DEWATS)",
              6: "Composting Toilet (e.g., Ecosan, UDDT, etc.)", 7: "Water Body", 8: "Open Ground",
              9: "Community Toilet", 10: "Open Defecation", 11: "Shared Septic Tank", 12: "Shared Toilet"}
CONTAINMENT_TYPES = {1: "Septic Tank connected to Sewer Network", 2: "Septic Tank connected to Drain Network",
                     3: "Septic Tank connected to Soak Pit", 13: "Lined Pit connected to Sewer Network",
                     14: "Lined Pit connected to Drain Network"}


def test_kind_from_table_or_layer_names():
    assert rules.kind_from_names(["drains"]) is rules.DRAIN
    assert rules.kind_from_names([None, "", "utility sewers 2023"]) is rules.SEWER
    assert rules.kind_from_names(["Drains"]) is rules.DRAIN
    # ambiguous or silent names do not decide; the next name may
    assert rules.kind_from_names(["drain_and_sewer", "lines", "Sewers"]) is rules.SEWER
    assert rules.kind_from_names(["lines", "pipes"]) is None


def test_kind_and_code_field_from_fields():
    assert rules.kind_from_fields(["fid", "drain_code", "geom"]) is rules.DRAIN
    assert rules.kind_from_fields(["SEWER_CODE"]) is rules.SEWER
    assert rules.kind_from_fields(["code", "drain_code"]) is None  # 'code' is the code: kind not told
    assert rules.code_field(["fid", "code", "drain_code"]) == "code"
    assert rules.code_field(["Code"]) == "Code"
    assert rules.code_field(["sewer_code"], rules.SEWER) == "sewer_code"
    assert rules.code_field(["name", "length"]) is None
    message = rules.code_field_problem("lines", ["name", "length"])
    assert "'lines'" in message and "'code'" in message and "'drain_code'" in message and "name, length" in message


def test_sanitation_names_resolve_case_and_space_insensitively():
    ids, unknown = rules.resolve_names("septic tank; PIT/HOLDING TANK\nOpen Ground", SANITATION)
    assert ids == {3, 4, 8} and unknown == []
    ids, unknown = rules.resolve_names(["Water Body", " open defecation "], SANITATION)
    assert ids == {7, 10} and unknown == []


def test_sanitation_names_with_commas_inside_labels():
    ids, unknown = rules.resolve_names("Onsite Treatment (e.g., Anaerobic Digestor/ Biogas, DEWATS), Septic Tank",
                                       SANITATION)
    assert ids == {5, 3} and unknown == []
    ids, unknown = rules.resolve_names("Septic Tank, Pits, Open Ground", SANITATION)
    assert ids == {3, 8} and unknown == ["Pits"]
    message = rules.unknown_names_problem(unknown, SANITATION)
    assert "'Pits'" in message and "Pit/ Holding Tank" in message


def test_empty_filter():
    assert rules.requested_names(None) == [] and rules.requested_names(" ; \n") == []


def test_drain_rule_uses_imis_ids_and_labels_from_the_table():
    rule = rules.ConnectionRule(rules.DRAIN, SANITATION, CONTAINMENT_TYPES)
    assert rule.reasons({"drain_code": "D0001"}, 3) == [(rules.CODE, "drain_code D0001")]
    assert rule.reasons({"drain_code": "  "}, 3) == []
    assert rule.reasons({"sewer_code": "S0001"}, 1) == []  # connected to a sewer, not a drain
    assert rule.reasons({}, 2) == [(rules.SANITATION, "sanitation system 'Drain Network'")]
    assert rule.reasons({}, 3, [("C1", 3), ("C2", 14)]) == [
        (rules.CONTAINMENT, "containment C2 'Lined Pit connected to Drain Network'")]
    assert "drain_code" in rule.description() and "'Drain Network' (id 2)" in rule.description()
    assert rule.warnings == []


def test_sewer_rule_and_renamed_labels():
    renamed = {**SANITATION, 1: "Piped sewerage"}
    rule = rules.ConnectionRule(rules.SEWER, renamed, CONTAINMENT_TYPES)
    assert rule.reasons({"sewer_code": "S0003", "drain_code": "D1"}, 1) == [
        (rules.CODE, "sewer_code S0003"), (rules.SANITATION, "sanitation system 'Piped sewerage'")]
    assert rule.reasons({}, 3, [("C9", 1)]) == [
        (rules.CONTAINMENT, "containment C9 'Septic Tank connected to Sewer Network'")]


def test_missing_ids_disable_their_part_with_a_warning():
    rule = rules.ConnectionRule(rules.DRAIN, {3: "Septic Tank"}, {2: "to drain"})
    assert rule.reasons({}, 2) == []
    assert rule.reasons({}, 3, [("C1", 14)]) == []
    assert rule.reasons({}, 3, [("C1", 2)]) != []
    assert len(rule.warnings) == 2 and "id 2" in rule.warnings[0] and "id 14" in rule.warnings[1]
    without = rules.ConnectionRule(rules.DRAIN, SANITATION, CONTAINMENT_TYPES, with_containments=False)
    assert without.reasons({}, 3, [("C1", 14)]) == []
    assert "not checked" in without.description()


def test_unknown_kind_uses_the_layer_codes_only():
    rule = rules.ConnectionRule(None, SANITATION, CONTAINMENT_TYPES, network_codes=["L1", "L2"])
    assert rule.reasons({"drain_code": "L2"}, 2) == [(rules.CODE, "drain_code L2")]
    assert rule.reasons({"drain_code": "D7", "sewer_code": "L1"}, 1) == [(rules.CODE, "sewer_code L1")]
    assert rule.reasons({"drain_code": "D7"}, 2) == []


def test_choose_counts_each_exclusion():
    def building(bin_, sanitation, **attributes):
        return BuildingRecord(bin_, 1.0, "D1", 1, sanitation, attributes=attributes)

    near = [building("B1", 3), building("B2", 2), building("B3", 3, drain_code="D1"), building("B4", 8),
            building("B5", None), building("B6", 4)]
    rule = rules.ConnectionRule(rules.DRAIN, SANITATION, CONTAINMENT_TYPES)
    found = rules.choose(near, rule, True, None, {"B6": [("C6", 14)]})
    assert [r.bin for r, _ in found.chosen] == ["B1", "B4", "B5"]
    assert (found.near, found.connected, found.filtered) == (6, 3, 0)
    assert found.connected_by == {rules.CODE: 1, rules.SANITATION: 1, rules.CONTAINMENT: 1}
    found = rules.choose(near, rule, True, {3, 4}, {"B6": [("C6", 14)]})
    assert [r.bin for r, _ in found.chosen] == ["B1"] and found.filtered == 2
    found = rules.choose(near, rule, False, None, {})
    assert [r.bin for r, _ in found.chosen] == ["B1", "B2", "B3", "B4", "B5", "B6"]
    assert dict((r.bin, reasons) for r, reasons in found.chosen)["B3"] == [(rules.CODE, "drain_code D1")]
