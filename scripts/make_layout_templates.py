"""Regenerate layouts/council_map_*.qpt, the council map templates the plugin ships.

    QT_QPA_PLATFORM=offscreen /usr/bin/python3 scripts/make_layout_templates.py

The templates are ordinary QGIS print layout templates: planners may also edit them in
QGIS's layout designer (Layout Manager > New from template). `imis:councilmap` finds the
items by their ids (see ITEM IDS in processing_algorithms/council_layout.py) and fills the
layout variables @imis_title, @imis_municipality, @imis_parameters and @imis_data_source;
the values stored in the templates are placeholders for the designer. Both templates are
drawn on A4; the algorithm scales them to A3.
"""
import os
import sys
from pathlib import Path

from qgis.core import (QgsApplication, QgsLayoutItem, QgsExpressionContextUtils, QgsFillSymbol, QgsLayoutItemLabel,
                       QgsLayoutItemLegend, QgsLayoutItemManualTable, QgsLayoutItemMap, QgsLayoutItemPage,
                       QgsLayoutItemPicture, QgsLayoutItemScaleBar, QgsLayoutItemShape, QgsLayoutFrame,
                       QgsLayoutMeasurement, QgsLayoutPoint, QgsLayoutSize, QgsLayoutTableColumn, QgsLegendStyle,
                       QgsPrintLayout, QgsProject, QgsRectangle, QgsScaleBarSettings, QgsReadWriteContext, QgsTableCell, QgsTextFormat, QgsUnitTypes)
from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtGui import QColor, QFont

OUT = Path(__file__).resolve().parents[1] / "layouts"
FONT = "DejaVu Sans"
ACCENT = QColor("#2f5f8a")
INK = QColor("#1a1a1a")
GREY = QColor("#555555")

PLACEHOLDERS = {
    "imis_title": "Buildings and containments within 100 m of rivers",
    "imis_municipality": "Name of the municipality",
    "imis_parameters": "Analysis parameters (filled in by the IMIS council map tool)",
    "imis_data_source": "IMIS database",
    "imis_table_note": "",
}


def font(size, bold=False, italic=False):
    f = QFont(FONT)
    f.setPointSizeF(size)
    f.setBold(bold)
    f.setItalic(italic)
    return f


def text_format(size, bold=False, color=INK):
    fmt = QgsTextFormat()
    fmt.setFont(font(size, bold))
    fmt.setSize(size)
    fmt.setSizeUnit(QgsUnitTypes.RenderPoints)
    fmt.setColor(color)
    return fmt


def place(item, x, y, w, h):
    # Size first: moving a zero-sized map item spoils its extent.
    item.attemptResize(QgsLayoutSize(w, h, QgsUnitTypes.LayoutMillimeters))
    item.attemptMove(QgsLayoutPoint(x, y, QgsUnitTypes.LayoutMillimeters))


def label(layout, item_id, text, rect, size, bold=False, italic=False, color=INK, halign=Qt.AlignLeft,
          valign=Qt.AlignTop):
    item = QgsLayoutItemLabel(layout)
    item.setId(item_id)
    item.setText(text)
    item.setFont(font(size, bold, italic))
    item.setFontColor(color)
    item.setHAlign(halign)
    item.setVAlign(valign)
    item.setMarginX(0)
    item.setMarginY(0)
    layout.addLayoutItem(item)
    place(item, *rect)
    return item


def rule(layout, item_id, rect, color=ACCENT):
    shape = QgsLayoutItemShape(layout)
    shape.setId(item_id)
    shape.setShapeType(QgsLayoutItemShape.Rectangle)
    shape.setSymbol(QgsFillSymbol.createSimple({"color": color.name(), "outline_style": "no"}))
    layout.addLayoutItem(shape)
    place(shape, *rect)
    return shape


def table(layout, item_id, rect, headers, rows):
    tbl = QgsLayoutItemManualTable.create(layout)
    tbl.setHeaders([QgsLayoutTableColumn(h) for h in headers])
    tbl.setTableContents([[QgsTableCell(v) for v in row] for row in rows])
    tbl.setIncludeTableHeader(True)
    tbl.setHeaderTextFormat(text_format(7, True))
    tbl.setContentTextFormat(text_format(7))
    tbl.setHeaderHAlignment(QgsLayoutItemManualTable.FollowColumn)
    tbl.setCellMargin(0.9)
    tbl.setGridStrokeWidth(0.15)
    tbl.setGridColor(QColor("#9a9a9a"))
    tbl.setHorizontalGrid(True)
    tbl.setVerticalGrid(False)
    tbl.setBackgroundColor(QColor(255, 255, 255, 0))
    tbl.setWrapBehavior(QgsLayoutItemManualTable.WrapText)
    tbl.setResizeMode(QgsLayoutItemManualTable.UseExistingFrames)
    layout.addMultiFrame(tbl)
    frame = QgsLayoutFrame(layout, tbl)
    frame.setId(item_id)
    frame.setFrameEnabled(False)
    tbl.addFrame(frame)
    # A table's frame is as wide as the table: size the placeholder columns to the box, which
    # the algorithm then treats as the room the table may use.
    overhead = 2 * tbl.cellMargin() * len(headers) + tbl.gridStrokeWidth() * (len(headers) + 1)
    tbl.setColumnWidths([(rect[2] - overhead) / len(headers)] * len(headers))
    place(frame, *rect)
    return tbl


def legend(layout, map_item, rect):
    item = QgsLayoutItemLegend(layout)
    item.setId("legend")
    item.setTitle("Legend")
    item.setLinkedMap(map_item)
    item.setResizeToContents(False)
    item.setSymbolWidth(6)
    item.setSymbolHeight(3.5)
    item.setWrapString("")
    item.setStyleFont(QgsLegendStyle.Title, font(9, True))
    item.setStyleFont(QgsLegendStyle.Group, font(8, True))
    item.setStyleFont(QgsLegendStyle.Subgroup, font(7.5, True))
    item.setStyleFont(QgsLegendStyle.SymbolLabel, font(7))
    item.setStyleMargin(QgsLegendStyle.Title, QgsLegendStyle.Bottom, 2)
    item.setStyleMargin(QgsLegendStyle.Subgroup, QgsLegendStyle.Top, 1.6)
    item.setStyleMargin(QgsLegendStyle.Symbol, QgsLegendStyle.Top, 1.0)
    item.setBoxSpace(1.5)
    item.setFrameEnabled(False)
    item.setBackgroundEnabled(False)
    layout.addLayoutItem(item)
    place(item, *rect)
    return item


def map_item(layout, rect):
    item = QgsLayoutItemMap(layout)
    item.setId("map")
    item.setFrameEnabled(True)
    item.setFrameStrokeWidth(QgsLayoutMeasurement(0.3, QgsUnitTypes.LayoutMillimeters))
    item.setFrameStrokeColor(QColor("#333333"))
    item.setBackgroundColor(QColor("#ffffff"))
    item.setAtlasDriven(True)
    item.setAtlasScalingMode(QgsLayoutItemMap.Predefined)
    item.setAtlasMargin(0.08)
    layout.addLayoutItem(item)
    place(item, *rect)
    # Any real extent (the designer shows the project's layers there); the algorithm replaces it.
    item.zoomToExtent(QgsRectangle(89.50, 22.78, 89.62, 22.86))
    return item


def north_arrow(layout, map_item, rect):
    item = QgsLayoutItemPicture(layout)
    item.setId("north_arrow")
    item.setPicturePath("arrows/NorthArrow_02.svg")
    item.setLinkedMap(map_item)
    item.setNorthMode(QgsLayoutItemPicture.TrueNorth)
    item.setBackgroundEnabled(True)
    item.setBackgroundColor(QColor(255, 255, 255, 210))
    layout.addLayoutItem(item)
    place(item, *rect)
    return item


def scale_bar(layout, map_item, x, y):
    item = QgsLayoutItemScaleBar(layout)
    item.setId("scalebar")
    item.setStyle("Single Box")
    item.setLinkedMap(map_item)
    item.setUnits(QgsUnitTypes.DistanceMeters)
    item.setUnitLabel("m")
    item.setNumberOfSegmentsLeft(0)
    item.setNumberOfSegments(4)
    item.setSegmentSizeMode(QgsScaleBarSettings.SegmentSizeFitWidth)
    item.setMinimumBarWidth(40)
    item.setMaximumBarWidth(65)
    item.setHeight(1.6)
    item.setTextFormat(text_format(7))
    item.setBackgroundEnabled(True)
    item.setBackgroundColor(QColor(255, 255, 255, 210))
    item.setBoxContentSpace(1.2)
    layout.addLayoutItem(item)
    # Anchored at its lower left corner: the bar grows up and right as its segments change.
    item.setReferencePoint(QgsLayoutItem.LowerLeft)
    item.attemptMove(QgsLayoutPoint(x, y, QgsUnitTypes.LayoutMillimeters))
    return item


BUILDING_HEADERS = ["Structure Type", "Buildings", "Sewer Network", "Drain Network", "Septic Tank",
                    "Pit / Holding Tank", "Onsite Treatment", "Composting Toilet", "Water Body", "Open Ground",
                    "Community Toilet", "Open Defecation"]
BUILDING_ROWS = [["Structure type"] + ["0"] * 11, ["Total"] + ["0"] * 11]
CONTAINMENT_ROWS = [["Containment type", "0"], ["Total", "0"]]


def header(layout, width):
    label(layout, "municipality", "[% upper(@imis_municipality) %]", (8, 7, width - 16, 5.5), 9.5, bold=True,
          color=ACCENT)
    label(layout, "title", "[% @imis_title %][% coalesce(' \u2014 ' || attribute(@atlas_feature, 'page_name'), '') %]",
          (8, 12.5, width - 16, 10), 17, bold=True)


PARAMETERS_TEXT = ("[% CASE WHEN length(@imis_table_note) > 0 THEN @imis_table_note || '\n' ELSE '' END %]"
                   "Analysis: [% @imis_parameters %]")


def footer_text():
    return ("Data source: [% @imis_data_source %]   \u00b7   Map projection: [% @imis_crs %]   \u00b7   "
            "Map produced [% format_date(now(), 'd MMMM yyyy') %] with the IMIS plugin for QGIS")


def landscape(project):
    layout = QgsPrintLayout(project)
    layout.initializeDefaults()
    layout.setName("IMIS council map (landscape)")
    layout.pageCollection().page(0).setPageSize("A4", QgsLayoutItemPage.Landscape)
    header(layout, 297)
    rule(layout, "header_rule", (8, 24, 281, 0.6))
    mp = map_item(layout, (8, 28, 196, 120))
    north_arrow(layout, mp, (193, 30, 9, 14))
    scale_bar(layout, mp, 10, 146)
    label(layout, "buildings_heading", "Buildings in the zone by structure type and toilet connection",
          (8, 151, 196, 5), 8.5, bold=True, color=ACCENT)
    table(layout, "buildings_table", (8, 156.5, 196, 31.5), BUILDING_HEADERS, BUILDING_ROWS)
    label(layout, "parameters", PARAMETERS_TEXT, (8, 189, 196, 9.5), 6.5, color=GREY)
    legend(layout, mp, (209, 27, 80, 70))
    label(layout, "containments_heading", "Containments in the zone by type", (209, 100, 80, 5), 8.5, bold=True,
          color=ACCENT)
    table(layout, "containments_table", (209, 105.5, 80, 76), ["Containment Type", "Containments"], CONTAINMENT_ROWS)
    label(layout, "page_note", "[% coalesce(attribute(@atlas_feature, 'page_note'), '') %]",
          (209, 184, 80, 13.5), 7, italic=True, color=GREY, valign=Qt.AlignBottom)
    rule(layout, "footer_rule", (8, 199, 281, 0.25), QColor("#9a9a9a"))
    label(layout, "footer", footer_text(), (8, 200.5, 281, 4.5), 6.5, color=GREY)
    return layout


def portrait(project):
    layout = QgsPrintLayout(project)
    layout.initializeDefaults()
    layout.setName("IMIS council map (portrait)")
    layout.pageCollection().page(0).setPageSize("A4", QgsLayoutItemPage.Portrait)
    header(layout, 210)
    rule(layout, "header_rule", (8, 24, 194, 0.6))
    mp = map_item(layout, (8, 28, 194, 136))
    north_arrow(layout, mp, (191, 30, 9, 14))
    scale_bar(layout, mp, 10, 162)
    legend(layout, mp, (8, 167, 94, 72))
    label(layout, "containments_heading", "Containments in the zone by type", (106, 167, 96, 5), 8.5, bold=True,
          color=ACCENT)
    table(layout, "containments_table", (106, 172.5, 96, 60), ["Containment Type", "Containments"], CONTAINMENT_ROWS)
    label(layout, "page_note", "[% coalesce(attribute(@atlas_feature, 'page_note'), '') %]",
          (106, 233.5, 96, 6), 7, italic=True, color=GREY, valign=Qt.AlignBottom)
    label(layout, "buildings_heading", "Buildings in the zone by structure type and toilet connection",
          (8, 242, 194, 5), 8.5, bold=True, color=ACCENT)
    table(layout, "buildings_table", (8, 247.5, 194, 30), BUILDING_HEADERS, BUILDING_ROWS)
    label(layout, "parameters", PARAMETERS_TEXT, (8, 278.5, 194, 9), 6.5, color=GREY)
    rule(layout, "footer_rule", (8, 288, 194, 0.25), QColor("#9a9a9a"))
    label(layout, "footer", footer_text(), (8, 289.5, 194, 4.5), 6.5, color=GREY)
    return layout


def save(layout, name):
    for key, value in PLACEHOLDERS.items():
        QgsExpressionContextUtils.setLayoutVariable(layout, key, value)
    QgsExpressionContextUtils.setLayoutVariable(layout, "imis_crs", "WGS 84 / UTM")
    path = OUT / name
    ok = layout.saveAsTemplate(str(path), QgsReadWriteContext())
    assert ok, path
    print("wrote", path)


def main():
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    QgsApplication.setPrefixPath("/usr", True)
    app = QgsApplication([], False)
    app.initQgis()
    OUT.mkdir(exist_ok=True)
    project = QgsProject()
    save(landscape(project), "council_map_landscape.qpt")
    save(portrait(project), "council_map_portrait.qpt")
    app.exitQgis()
    return 0


if __name__ == "__main__":
    sys.exit(main())
