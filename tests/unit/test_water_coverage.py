"""Water supply coverage rules: connection, status classes, pipe-code checks, ward tallies."""
from imis.processing_algorithms import water_coverage as rules

# Seeded labels (DATABASE.md 12.6), as a fixture only: the code must not know them.
SEEDED = {1: "Jar Water", 2: "Rainwater", 6: "Tube well", 10: "Municipal/Public water supply"}


def record(bin_, nearest=None, distance=None, source=None, code=None, population=None, ward=None, state=None,
           recorded_distance=None):
    """A building as the paths report it (codes already trimmed, blank -> None)."""
    return dict(source=source, recorded=rules.pipe_code(code), nearest=nearest, distance=distance,
                recorded_state=state, recorded_distance=recorded_distance, population=population, ward=ward)


def classify(rows, municipal, limit):
    return [rules.classify(row["source"], row["recorded"], row["nearest"], row["distance"], row["recorded_state"],
                           row["recorded_distance"], municipal, limit) for row in rows]


def tally(rows, ward_keys, wards_given=True, municipal=frozenset({10}), limit=50.0):
    tallies = rules.Tallies(ward_keys, wards_given)
    for row, (_, status, flag, _) in zip(rows, classify(rows, municipal, limit)):
        tallies.tally(row["ward"]).add(status, row["population"], flag)
    return tallies.coverage()


def test_municipal_source_matched_by_name_not_id():
    assert rules.municipal_source_ids(SEEDED) == {10}
    # The data dictionary's ids (1 = municipal) and other spellings of the name.
    assert rules.municipal_source_ids({1: "MUNICIPAL supply", 2: "Pond", 3: None}) == {1}
    assert rules.municipal_source_ids({4: "City Municipal tap", 5: "Municipal (public)"}) == {4, 5}
    assert rules.municipal_source_ids({1: "Jar Water"}) == frozenset()


def test_connected_by_municipal_source_or_pipe_code():
    municipal = {10}
    assert rules.is_connected(10, None, municipal)
    assert rules.is_connected(6, "W0001", municipal)
    assert not rules.is_connected(6, None, municipal)
    assert not rules.is_connected(6, "   ", municipal)  # a blank code is no code
    assert not rules.is_connected(None, "", municipal)


def test_four_status_classes():
    results = classify([
        record("B1", "W1", 10.0, 10),  # connected, pipe within reach
        record("B2", None, None, 10),  # connected, no pipe within reach
        record("B3", "W2", 49.9, 6),  # potential customer
        record("B4", None, None, 6),  # out of reach
        record("B5", None, None, 1, "W7", state=rules.PIPE_LIVE, recorded_distance=80.0),  # code -> connected
    ], {10}, 50.0)
    assert [status for _, status, _, _ in results] == [rules.CONNECTED, rules.CONNECTED_NO_PIPE, rules.POTENTIAL,
                                                       rules.OUT_OF_REACH, rules.CONNECTED_NO_PIPE]
    assert [connected for connected, _, _, _ in results] == [True, True, False, False, True]
    assert rules.STATUS_LABELS[rules.POTENTIAL] == "not connected, pipe within reach"


def test_pipe_code_flags():
    results = classify([
        record("B1", "W1", 12.0, 10, "W1", state=rules.PIPE_LIVE),  # the nearest pipe: fine
        record("B2", "W1", 12.0, 10, "W2", state=rules.PIPE_LIVE, recorded_distance=40.0),  # another pipe in reach
        record("B3", "W1", 12.0, 10, "W3", state=rules.PIPE_LIVE, recorded_distance=50.0),  # exactly at the limit
        record("B4", "W1", 12.0, 10, "W4", state=rules.PIPE_LIVE, recorded_distance=50.01),
        record("B5", None, None, 10, "W5", state=rules.PIPE_DELETED),
        record("B6", "W1", 3.0, 10, "W9", state=rules.PIPE_MISSING),
        record("B7", "W1", 3.0, 10, None),
        record("B8", None, None, 10, " W8 ", state=rules.PIPE_LIVE, recorded_distance=700.0),
    ], {10}, 50.0)
    assert [flag for _, _, flag, _ in results] == [None, None, None, rules.FLAG_FAR, rules.FLAG_DELETED,
                                                   rules.FLAG_MISSING, None, rules.FLAG_FAR]
    assert results[0][3] == 12.0  # the recorded pipe is the nearest: its distance
    assert rules.pipe_code(" W8 ") == "W8" and rules.pipe_code("  ") is None


def test_ward_tally_zero_for_empty_wards_and_outside_row():
    coverage = tally([
        record("B1", "W1", 1.0, 10, population=5, ward=1),
        record("B2", None, None, 6, population=3, ward=1),
        record("B3", "W1", 1.0, 6, population=None, ward=2),
        record("B4", None, None, 6, population=4, ward=None),
    ], [2, 1, 3])
    assert [w.ward for w in coverage.wards] == [1, 2, 3]
    one, two, three = coverage.wards
    assert (one.buildings, one.population, one.counts[rules.CONNECTED], one.counts[rules.OUT_OF_REACH]) == (2, 8, 1, 1)
    assert one.percentages()[rules.CONNECTED] == 50.0
    assert two.population_missing == 1 and two.population == 0
    odd = rules.Tally("x")
    odd.add(rules.CONNECTED, "7", None)
    odd.add(rules.CONNECTED, "", None)
    assert (odd.population, odd.population_missing) == (7, 1)
    assert three.buildings == 0 and three.percentages() == {key: 0.0 for key in rules.STATUS_KEYS}
    assert coverage.outside.buildings == 1
    assert coverage.total.buildings == 4 and coverage.total.population == 12
    table = rules.summary_table(coverage)
    assert [row[0] for row in table[1:]] == ["Ward 1", "Ward 2", "Ward 3", rules.OUTSIDE_LABEL, rules.TOTAL_LABEL]
    header = table[0]
    assert header[:3] == ["Ward", "Buildings", "Population"]
    assert table[3][header.index("Buildings")] == 0
    assert table[3][header.index("% connected, pipe within reach")] == 0.0
    assert table[-1][header.index("Population connected")] == 5


def test_without_wards_only_the_city_total():
    coverage = tally([record("B1", "W1", 1.0, 10)], [], wards_given=False)
    assert [row[0] for row in rules.summary_table(coverage)[1:]] == [rules.TOTAL_LABEL]


def test_no_outside_row_when_every_building_is_in_a_ward():
    coverage = tally([record("B1", "W1", 1.0, 10, ward=1)], [1])
    assert [row[0] for row in rules.summary_table(coverage)[1:]] == ["Ward 1", rules.TOTAL_LABEL]
