"""Survey check codes and messages (no QGIS, no database)."""
import datetime
from decimal import Decimal

from imis.imis_plugin import revisions
from imis.processing_algorithms import survey_check_catalog as catalog


def test_codes_are_unique_stable_and_have_a_severity():
    assert len(catalog.CODES) == len(set(catalog.CODES)) == 15
    assert catalog.CODES[:2] == ("FOOTPRINT_INVALID", "FOOTPRINT_MISSING")
    assert {c.severity for c in catalog.CHECKS} == {"error", "warning"}
    for check in catalog.CHECKS:
        assert check.code.isupper() and check.title and check.description


def test_messages_name_the_feature_and_the_values():
    assert catalog.message("FOOTPRINT_INVALID", bin="B000002", reason="Self-intersection",
                           at=(89.5, 22.8)) == \
        "Building B000002: invalid footprint: Self-intersection near 89.500000, 22.800000."
    text = catalog.message("FOOTPRINT_OVERLAP", bin="B1", other="B2", area=12.345, share=0.41)
    assert "B1" in text and "B2" in text and "12.35 m²" in text and "41.0 %" in text
    assert catalog.message("WARD_MISMATCH", bin="B1", ward=None, geo_ward=3) == \
        "Building B1 is recorded in no ward but its footprint lies in ward 3."
    assert "empty" in catalog.message("AREA_MISMATCH", bin="B1", estimated=None, area=10.0)
    # A zero area never divides.
    assert "B1" in catalog.message("AREA_MISMATCH", bin="B1", estimated=1.0, area=0.0)
    assert "B1" in catalog.message("FOOTPRINT_OUTSIDE_CITY", bin="B1", area=0.0, inside=0.0)
    assert catalog.message("CONTAINMENT_FAR", id="C1", distance=42.04, bins="B1, B2") == \
        "Containment C1 is 42.0 m from the nearest of its linked buildings (B1, B2)."
    assert "'D9'" in catalog.message("NETWORK_CODE_UNKNOWN", bin="B1", column="drain_code", code="D9")


def test_every_code_has_a_message():
    sample = {"bin": "B1", "other": "B2", "reason": "r", "at": None, "null": True, "found": "x",
              "area": 1.0, "share": 0.5, "part": 1, "parts": 2, "inside": 0.5, "ward": 1, "geo_ward": 2,
              "estimated": 2.0, "id": "C1", "distance": 3.0, "bins": "B1", "links": 0, "system": "Pit",
              "column": "sewer_code", "code": "S1"}
    for code in catalog.CODES:
        assert catalog.message(code, **sample)


def test_revision_text_forms():
    assert revisions.value_text(True) == "1" and revisions.value_text(False) == "0"
    assert revisions.value_text(Decimal("2.00")) == "2.00"
    assert revisions.value_text(datetime.datetime(2024, 1, 2, 3, 4, 5, 999)) == "2024-01-02 03:04:05"
    assert revisions.value_text(datetime.date(2024, 1, 2)) == "2024-01-02"
    assert revisions.value_text(None) is None
    now = revisions.local_now("Asia/Kathmandu")
    assert now.tzinfo is None and now.microsecond == 0
