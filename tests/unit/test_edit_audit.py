"""public.revisions rows as IMIS's revisionable package writes them (EDITING.md §9)."""
import datetime
from decimal import Decimal

from imis.imis_plugin.editing import audit

NOW = datetime.datetime(2024, 6, 30, 14, 5, 9)


def test_creation_row():
    (row,) = audit.creation_rows("buildings", "B000124", NOW, 7, NOW)
    assert row == {
        "revisionable_type": "App\\Models\\BuildingInfo\\Building", "revisionable_id": "B000124", "user_id": 7,
        "key": "created_at", "old_value": None, "new_value": "2024-06-30 14:05:09", "created_at": NOW,
        "updated_at": NOW,
    }


def test_deletion_row_and_class_names():
    (row,) = audit.deletion_rows("containments", "C000002", NOW, 7, NOW)
    assert row["revisionable_type"] == "App\\Models\\Fsm\\Containment"
    assert (row["key"], row["old_value"], row["new_value"]) == ("deleted_at", None, "2024-06-30 14:05:09")
    (owner,) = audit.creation_rows("owners", 15, NOW, 7, NOW)
    assert owner["revisionable_type"] == "App\\Models\\BuildingInfo\\Owner" and owner["revisionable_id"] == "15"


def test_update_rows_only_for_really_changed_columns():
    before = {"floor_count": (Decimal("2.00"), "2.00"), "toilet_status": (True, "true"), "tax_code": ("T1", "T1"),
              "lic_id": (None, None), "updated_at": (NOW, "x"), "distance_from_well": (Decimal("2"), "2")}
    after = {"floor_count": (Decimal("2"), "2"), "toilet_status": (False, "false"), "tax_code": ("T2", "T2"),
             "lic_id": (3, "3"), "updated_at": (NOW + datetime.timedelta(1), "y"),
             "distance_from_well": (Decimal("2.0"), "2.0")}
    rows = audit.update_rows("buildings", "B1", before, after, 7, NOW)
    assert [(r["key"], r["old_value"], r["new_value"]) for r in rows] == [
        ("toilet_status", "1", "0"), ("tax_code", "T1", "T2"), ("lic_id", None, "3")]


def test_values_as_the_web_stack_writes_them():
    assert audit.value_text(True, "true") == "1"
    assert audit.value_text(None, None) is None
    assert audit.value_text(datetime.datetime(2024, 1, 2, 3, 4, 5), "2024-01-02 03:04:05") == "2024-01-02 03:04:05"
    assert audit.value_text(Decimal("2.50"), "2.50") == "2.50"
    assert audit.value_text(datetime.date(2024, 1, 2), "2024-01-02") == "2024-01-02"


def test_geometry_compared_as_its_hex_text():
    before = {"geom": ("0106AA", "0106AA")}
    assert audit.update_rows("buildings", "B1", before, {"geom": ("0106AA", "0106AA")}, 1, NOW) == []
    (row,) = audit.update_rows("buildings", "B1", before, {"geom": ("0106BB", "0106BB")}, 1, NOW)
    assert (row["old_value"], row["new_value"]) == ("0106AA", "0106BB")
