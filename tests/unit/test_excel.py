"""IMIS workbook layout and cell rendering, re-read with openpyxl."""
import datetime
import decimal

import openpyxl
import pytest

from imis.processing_algorithms import excel
from imis.processing_algorithms.lookups import Lookups
from imis.processing_algorithms.records import BuildingRecord, ContainmentRecord


def test_exact_headers():
    headers = [header for header, _ in excel.BUILDINGS_LIST_COLUMNS]
    assert len(headers) == 24
    assert headers[4] == "Tax Code/ Holding ID"
    assert headers[11] == "Estimated Area of the Building ( \u33a1 )"
    assert [header for header, _ in excel.CONTAINMENT_LIST_COLUMNS] == [
        "Containment ID", "BIN", "Containment Type", "Septic Tank Standard Compliance", "Construction Date",
        "Containment Volume (m\u00b3)", "Containment Location", "Building Served", "Next Emptying Date",
        "Last Emptied Date", "Number of Times Emptied",
    ]
    assert "floor_count" in excel.BUILDING_LIST_FIELDS and "owner_name" in excel.OWNER_FIELDS


@pytest.mark.parametrize("value, expected", [
    (True, "Yes"), (False, "No"), (None, None), (decimal.Decimal("2.00"), 2), (decimal.Decimal("2.5"), 2.5),
    (3.0, 3), (datetime.date(2020, 1, 2), datetime.date(2020, 1, 2)), ("x", "x"),
])
def test_cell_values(value, expected):
    assert excel.cell_value(value) == expected


def _lookups():
    return Lookups(structure_types={1: "Pucca"}, sanitation_systems={3: ("Septic Tank", True)},
                   functional_uses={1: "Residential"}, water_sources={10: "Municipal"},
                   containment_types={3: "Septic Tank connected to Soak Pit"})


def test_rows_and_workbook(tmp_path):
    building = BuildingRecord("B000002", 4.0, 1, 1, 3, attributes={
        "house_number": "R1 - 0001", "floor_count": decimal.Decimal("2.00"), "functional_use_id": 1,
        "water_source_id": 10, "toilet_status": False, "well_presence_status": None, "population_served": 5})
    other = BuildingRecord("B000001", 1.0, 1, None, None)
    rows = list(excel.buildings_list_rows([building, other], {"B000002": ["C2", "C1"]}, _lookups(),
                                          {"B000002": {"owner_name": "Ram", "owner_contact": 98123}}))
    assert [row[0] for row in rows] == ["B000001", "B000002", "B000002"]
    assert [row[3] for row in rows] == [None, "C1", "C2"]
    assert rows[1][9] == "Pucca" and rows[1][10] == "Residential" and rows[1][13] == "Septic Tank"
    assert rows[1][16] == "Municipal" and rows[1][21] == "Ram" and rows[1][23] == 98123

    containment = ContainmentRecord("C1", 3, ("B000002",), 1, attributes={
        "septic_criteria": True, "construction_date": "2019-05-06", "size": decimal.Decimal("3.50")})
    crow = list(excel.containment_list_rows([(containment, "B000002")], _lookups()))[0]
    assert crow[:5] == ["C1", "B000002", "Septic Tank connected to Soak Pit", True, datetime.date(2019, 5, 6)]
    assert crow[7] == 1

    path = tmp_path / "book.xlsx"
    sheets = [
        excel.Sheet(excel.BUILDINGS_LIST, [h for h, _ in excel.BUILDINGS_LIST_COLUMNS], rows),
        excel.Sheet(excel.CONTAINMENT_LIST, [h for h, _ in excel.CONTAINMENT_LIST_COLUMNS], [crow]),
        excel.parameters_sheet([("Distance (m)", 100.0)]),
    ]
    assert excel.write_workbook(str(path), sheets)
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["Buildings List", "Containment List", "Parameters"]
    sheet = book["Buildings List"]
    assert sheet["A1"].value == "BIN" and sheet["A1"].font.b
    assert sheet["I3"].value == 2 and isinstance(sheet["I3"].value, int)  # numbers as numbers
    assert sheet["O3"].value == "No" and sheet["R3"].value is None  # False vs NULL
    assert sheet.column_dimensions["A"].width >= 10
    cl = book["Containment List"]
    assert cl["D2"].value == "Yes" and cl["E2"].value.date() == datetime.date(2019, 5, 6)
    assert cl["F2"].value == 3.5
    assert book["Parameters"]["B2"].value == 100
