"""The council map layout: a shipped .qpt template, filled with one analysis, exported to PDF/PNG.

ITEM IDS the code fills (a planner may move, restyle or delete any of them in the template):
  map                  map item (atlas-driven; gets the layers, extent, scale and CRS)
  legend               legend (gets the map's layers with their legend names)
  scalebar             scale bar in metres, linked to the map
  north_arrow          north arrow, linked to the map
  title, municipality  labels using @imis_title / @imis_municipality
  buildings_table      frame of the manual table "buildings by structure type"
  containments_table   frame of the manual table "containments by type"
  containments_heading heading of that table (hidden when there is no containment table)
  page_note            label using the atlas page's page_note
  parameters, footer   labels using @imis_table_note, @imis_parameters, @imis_data_source, @imis_crs
Layout variables: imis_title, imis_municipality, imis_parameters, imis_data_source, imis_crs,
imis_table_note, imis_date.

Every page is an atlas page of a small coverage layer made here: one feature for the whole
zone, or one per ward. Layout objects are created, used and deleted in one thread.
"""
import math
import os
from dataclasses import dataclass, field

from qgis.core import (QgsCoordinateTransform, QgsExpressionContextUtils, QgsFeature, QgsField, QgsFields,
                       QgsFillSymbol, QgsGeometry, QgsInvertedPolygonRenderer, QgsLayoutExporter, QgsLayoutFrame,
                       QgsLayoutItemLabel, QgsLayoutItemLegend, QgsLayoutItemManualTable, QgsLayoutItemMap,
                       QgsLayoutItemPage, QgsLayoutItemScaleBar, QgsLayoutPoint, QgsLayoutSize, QgsLayoutTableColumn,
                       QgsLayoutUtils, QgsLegendStyle, QgsPrintLayout, QgsProcessingException, QgsReadWriteContext,
                       QgsRenderContext, QgsRuleBasedRenderer, QgsScaleBarSettings, QgsTableCell, QgsUnitTypes,
                       QgsVectorLayer)
from qgis.PyQt.QtCore import QRectF, QSize, QSizeF, QVariant, Qt
from qgis.PyQt.QtGui import QColor
from qgis.PyQt.QtXml import QDomDocument

LAYOUT_DIR = os.path.join(os.path.dirname(os.path.dirname(__file__)), "layouts")
TEMPLATES = {"landscape": os.path.join(LAYOUT_DIR, "council_map_landscape.qpt"),
             "portrait": os.path.join(LAYOUT_DIR, "council_map_portrait.qpt")}
# Templates are drawn on A4; A3 is A4 enlarged by sqrt(2): every box and every font grows by
# that factor, so the page keeps its proportions and the map shows more detail at a larger scale.
PAPER_SCALE = {"A4": 1.0, "A3": math.sqrt(2.0)}
# Round scales a page may take (the smallest that shows the whole page extent is used).
MAP_SCALES = [500, 750, 1000, 1250, 1500, 2000, 2500, 3000, 4000, 5000, 6000, 7500, 10000, 12500, 15000, 20000,
              25000, 30000, 40000, 50000, 60000, 75000, 100000, 125000, 150000, 200000, 250000, 300000, 400000,
              500000, 750000, 1000000]
TOTAL_LABEL = "Total"
MIN_FONT_PT = 4.5


@dataclass
class Table:
    headers: list
    rows: list  # lists of values; first column is the row label, the others are counts


@dataclass
class Page:
    name: str  # "" for the whole zone
    geometry: QgsGeometry  # in the coverage CRS
    note: str = ""
    ward: object = None
    file_stem: str = ""


@dataclass
class MapContent:
    layers: list  # QgsMapLayer, top of the map first; their names are the legend names
    pages: list  # Page
    coverage_crs: object  # QgsCoordinateReferenceSystem of the page geometries
    map_crs: object  # QgsCoordinateReferenceSystem the map is drawn in (metric)
    buildings_table: Table
    containments_table: Table = None
    variables: dict = field(default_factory=dict)


def load_template(project, path):
    """A QgsPrintLayout from a .qpt file; a clear message when it cannot be used."""
    if not os.path.isfile(path):
        raise QgsProcessingException(f"The layout template {path} does not exist.")
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    document = QDomDocument()
    if not document.setContent(text)[0]:
        raise QgsProcessingException(f"The layout template {path} is not a QGIS layout template (.qpt).")
    layout = QgsPrintLayout(project)
    _, ok = layout.loadFromTemplate(document, QgsReadWriteContext())
    if not ok:
        raise QgsProcessingException(f"QGIS could not read the layout template {path}.")
    if item(layout, "map", QgsLayoutItemMap) is None:
        raise QgsProcessingException(f"The layout template {path} has no map item with the id 'map'.")
    layout.template_boxes = _drawn_sizes(layout, document)
    return layout


def _drawn_sizes(layout, document):
    """Item sizes as drawn in the template, by id. A table resizes its frame to its contents
    when loaded, so the box the planner drew for it is only in the file."""
    sizes = {}
    elements = document.elementsByTagName("LayoutItem")
    for i in range(elements.count()):
        element = elements.at(i).toElement()
        if element.attribute("id"):
            size = layout.convertToLayoutUnits(QgsLayoutSize.decodeSize(element.attribute("size")))
            sizes[element.attribute("id")] = QSizeF(size.width(), size.height())
    return sizes


def item(layout, item_id, kind=None):
    found = layout.itemById(item_id)
    if found is not None and kind is not None and not isinstance(found, kind):
        return None
    return found


def table_of(layout, item_id):
    frame = item(layout, item_id, QgsLayoutFrame)
    return frame.multiFrame() if frame is not None else None


def scale_to_paper(layout, paper, orientation):
    factor = PAPER_SCALE[paper]
    page = layout.pageCollection().page(0)
    page.setPageSize(paper, QgsLayoutItemPage.Landscape if orientation == "landscape" else QgsLayoutItemPage.Portrait)
    if factor == 1.0:
        return
    layout.template_boxes = {key: size * factor for key, size in layout.template_boxes.items()}
    mm = QgsUnitTypes.LayoutMillimeters
    for entry in layout.items():
        if not hasattr(entry, "positionWithUnits") or isinstance(entry, QgsLayoutItemPage):
            continue
        position = layout.convertToLayoutUnits(entry.positionWithUnits())
        size = layout.convertToLayoutUnits(entry.sizeWithUnits())
        entry.attemptResize(QgsLayoutSize(size.width() * factor, size.height() * factor, mm))
        entry.attemptMove(QgsLayoutPoint(position.x() * factor, position.y() * factor, mm))
        _scale_text(entry, factor)
    for multi in layout.multiFrames():
        if isinstance(multi, QgsLayoutItemManualTable):
            for getter, setter in ((multi.headerTextFormat, multi.setHeaderTextFormat),
                                   (multi.contentTextFormat, multi.setContentTextFormat)):
                fmt = getter()
                fmt.setSize(fmt.size() * factor)
                setter(fmt)
            multi.setCellMargin(multi.cellMargin() * factor)


def _scale_text(entry, factor):
    def bigger(font):
        font.setPointSizeF(font.pointSizeF() * factor)
        return font

    if isinstance(entry, QgsLayoutItemLabel):
        entry.setFont(bigger(entry.font()))
    elif isinstance(entry, QgsLayoutItemLegend):
        for style in (QgsLegendStyle.Title, QgsLegendStyle.Group, QgsLegendStyle.Subgroup,
                      QgsLegendStyle.SymbolLabel):
            entry.setStyleFont(style, bigger(entry.styleFont(style)))
        entry.setSymbolWidth(entry.symbolWidth() * factor)
        entry.setSymbolHeight(entry.symbolHeight() * factor)
        entry.setBoxSpace(entry.boxSpace() * factor)
    elif isinstance(entry, QgsLayoutItemScaleBar):
        fmt = entry.textFormat()
        fmt.setSize(fmt.size() * factor)
        entry.setTextFormat(fmt)
        entry.setHeight(entry.height() * factor)
        entry.setBoxContentSpace(entry.boxContentSpace() * factor)


def _wrap_header(text):
    """Two lines for long headers, split at the space nearest the middle."""
    if len(text) <= 9 or " " not in text:
        return text
    middle = len(text) / 2
    cut = min((i for i, ch in enumerate(text) if ch == " "), key=lambda i: abs(i - middle))
    return text[:cut] + "\n" + text[cut + 1:]


def _count_text(value):
    if value is None or value == "":
        return "0"
    try:
        return f"{int(value):,}"
    except (TypeError, ValueError):
        return str(value)


def shown_columns(table, keep=2):
    """Indexes of the columns to print: the label, the first `keep`-1 counts, and every count
    column that is not zero in all rows (IMIS's on-screen table hides those too, ANALYSES.md §4.6)."""
    columns = list(range(min(keep, len(table.headers))))
    for index in range(keep, len(table.headers)):
        if any(_as_number(row[index]) != 0 for row in table.rows):
            columns.append(index)
    return columns


def _as_number(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def fill_table(layout, item_id, table, hide_zero_columns=True):
    """Put `table` into the manual table whose frame has id `item_id`; returns the shown columns."""
    tbl = table_of(layout, item_id)
    if tbl is None:
        return None
    box = layout.template_boxes.get(item_id, tbl.frame(0).rect().size())
    columns = shown_columns(table) if hide_zero_columns else list(range(len(table.headers)))
    headers = []
    for index in columns:
        heading = str(table.headers[index])
        column = QgsLayoutTableColumn(heading if index == 0 else _wrap_header(heading))
        column.setHAlignment(Qt.AlignLeft if index == 0 else Qt.AlignRight)
        column.setVAlignment(Qt.AlignBottom)
        headers.append(column)
    tbl.setHeaders(headers)
    total_format = tbl.contentTextFormat()
    bold = total_format.font()
    bold.setBold(True)
    total_format.setFont(bold)
    contents = []
    for row in table.rows:
        is_total = str(row[0]).strip() == TOTAL_LABEL
        cells = []
        for index in columns:
            value = row[index]
            text = (str(value) if value not in (None, "") else "(not recorded)") if index == 0 else _count_text(value)
            cell = QgsTableCell(text)
            cell.setHorizontalAlignment(Qt.AlignLeft if index == 0 else Qt.AlignRight)
            if is_total:
                cell.setTextFormat(total_format)
                cell.setBackgroundColor(QColor("#eeeeee"))
            cells.append(cell)
        contents.append(cells)
    tbl.setTableContents(contents)
    tbl.setColumnWidths([0.0] * len(columns))
    _fit_table(layout, tbl, box.width())
    _stretch_table(tbl, box)
    return columns


def _fit_table(layout, tbl, width):
    """Shrink the table's fonts until all its rows fit its frame and it is at most `width` wide
    (long lookup lists, A4 portrait)."""
    context = QgsLayoutUtils.createRenderContextForLayout(layout, None)
    rows = len(tbl.tableContents())
    for _ in range(14):
        tbl.recalculateTableSize()
        height = tbl.frame(0).rect().height()
        # A table's height is that of its frames: ask how many rows the frame shows instead.
        if tbl.totalWidth() <= width + 0.01 and tbl.rowsVisible(context, height, 0, True, False) >= rows:
            return
        header, content = tbl.headerTextFormat(), tbl.contentTextFormat()
        if content.size() <= MIN_FONT_PT:
            return
        for fmt, setter in ((header, tbl.setHeaderTextFormat), (content, tbl.setContentTextFormat)):
            fmt.setSize(max(MIN_FONT_PT, fmt.size() * 0.92))
            setter(fmt)
        contents = tbl.tableContents()
        for row in contents:
            for cell in row:
                fmt = cell.textFormat()
                if fmt.isValid():
                    fmt.setSize(content.size())
                    cell.setTextFormat(fmt)
        tbl.setTableContents(contents)
        tbl.setCellMargin(max(0.4, tbl.cellMargin() * 0.92))


def _text_width(text, fmt):
    font = fmt.font()
    font.setPointSizeF(fmt.size())
    return max(QgsLayoutUtils.textWidthMM(font, line) for line in str(text).split("\n"))


def _stretch_table(tbl, box):
    """Spread the frame's spare width over the columns, so the table spans its frame."""
    headers, contents = tbl.headers(), tbl.tableContents()
    if not headers:
        return
    widths = []
    for index, column in enumerate(headers):
        width = _text_width(column.heading(), tbl.headerTextFormat())
        for row in contents:
            cell = row[index]
            fmt = cell.textFormat() if cell.textFormat().isValid() else tbl.contentTextFormat()
            width = max(width, _text_width(cell.content(), fmt))
        widths.append(width)
    used = sum(widths) + 2 * tbl.cellMargin() * len(widths) + tbl.gridStrokeWidth() * (len(widths) + 1)
    spare = box.width() - used - 0.5
    if spare <= 0:
        return
    tbl.setColumnWidths([w + spare / len(widths) for w in widths])


def fit_label(label_item, text, smallest_pt=9.0):
    """Shrink a one-line label's font so `text` fits the label's width."""
    if label_item is None:
        return
    font = label_item.font()
    while (QgsLayoutUtils.textWidthMM(font, text) > label_item.rect().width() - 2 * label_item.marginX()
           and font.pointSizeF() * 0.93 >= smallest_pt):
        font.setPointSizeF(font.pointSizeF() * 0.93)
    label_item.setFont(font)


def set_legend(layout, layers):
    """The map's layers in the legend; shrunk to fit its template box, and the items below it in
    the same column moved up or down to follow its real height."""
    legend = item(layout, "legend", QgsLayoutItemLegend)
    if legend is None:
        return
    legend.setAutoUpdateModel(False)
    root = legend.model().rootGroup()
    root.removeAllChildren()
    for layer in layers:
        root.addLayer(layer)
    box = QRectF(legend.pos(), layout.template_boxes.get("legend", legend.rect().size()))
    legend.setResizeToContents(True)
    # A legend measures its contents only once it has been painted: paint it once, small.
    QgsLayoutExporter(layout).renderRegionToImage(legend.sceneBoundingRect(), QSize(8, 8))

    def fits():
        legend.updateLegend()
        legend.adjustBoxSize()
        return legend.rect().height() <= box.height() + 0.01 and legend.rect().width() <= box.width() + 0.01

    if not fits():
        legend.setColumnCount(2)
        legend.setSplitLayer(True)
    for _ in range(10):
        if fits():
            break
        for style in (QgsLegendStyle.Title, QgsLegendStyle.Group, QgsLegendStyle.Subgroup,
                      QgsLegendStyle.SymbolLabel):
            font = legend.styleFont(style)
            font.setPointSizeF(max(MIN_FONT_PT, font.pointSizeF() * 0.92))
            legend.setStyleFont(style, font)
        legend.setSymbolHeight(max(2.0, legend.symbolHeight() * 0.92))
        legend.setSymbolWidth(max(3.5, legend.symbolWidth() * 0.92))
        for style in (QgsLegendStyle.Symbol, QgsLegendStyle.Subgroup):
            legend.setStyleMargin(style, QgsLegendStyle.Top, legend.style(style).margin(QgsLegendStyle.Top) * 0.85)
    _stack_below(layout, box, legend.pos().y() + legend.rect().height() + 3.0,
                 ("containments_heading", "containments_table"))


def _stack_below(layout, box, new_top, item_ids):
    """Move the items that sit under `box` (same column) so the first starts at `new_top`;
    the last keeps its bottom edge, so a table gains what the legend did not need."""
    found = [item(layout, i) for i in item_ids]
    found = [f for f in found if f is not None and f.pos().y() >= box.bottom() - 0.01
             and f.pos().x() < box.right() and f.pos().x() + f.rect().width() > box.left()]
    if not found:
        return
    shift = new_top - min(f.pos().y() for f in found)
    mm = QgsUnitTypes.LayoutMillimeters
    for entry in found[:-1]:
        entry.attemptMove(QgsLayoutPoint(entry.pos().x(), entry.pos().y() + shift, mm))
    last = found[-1]
    bottom = last.pos().y() + last.rect().height()
    top = last.pos().y() + shift
    if bottom - top > 10:
        last.attemptMove(QgsLayoutPoint(last.pos().x(), top, mm))
        last.attemptResize(QgsLayoutSize(last.rect().width(), bottom - top, mm))


def coverage_layer(content):
    fields = QgsFields()
    for name, kind in (("page_name", QVariant.String), ("page_note", QVariant.String),
                       ("ward", QVariant.String), ("file_stem", QVariant.String)):
        fields.append(QgsField(name, kind))
    layer = QgsVectorLayer("Polygon", "pages", "memory")
    layer.setCrs(content.coverage_crs)
    layer.dataProvider().addAttributes(fields.toList())
    layer.updateFields()
    features = []
    for page in content.pages:
        feature = QgsFeature(layer.fields())
        feature.setGeometry(page.geometry)
        feature.setAttributes([page.name or None, page.note or None,
                               None if page.ward is None else str(page.ward), page.file_stem])
        features.append(feature)
    layer.dataProvider().addFeatures(features)
    return layer


def _veil_outside_ward(pages):
    """Draw the page layer so that, on a ward's page, everything outside the ward is veiled and
    the ward outlined."""
    veil = QgsFillSymbol.createSimple({"color": "255,255,255,150", "outline_color": "47,95,138,255",
                                       "outline_width": "0.8", "outline_width_unit": "MM"})
    root = QgsRuleBasedRenderer.Rule(None)
    root.appendChild(QgsRuleBasedRenderer.Rule(veil, 0, 0, '"ward" IS NOT NULL AND $id = @atlas_featureid'))
    pages.setRenderer(QgsInvertedPolygonRenderer(QgsRuleBasedRenderer(root)))


def build_layout(project, content, paper="A4", orientation="landscape", template=None):
    """The filled QgsPrintLayout (its atlas iterates the pages). `project` owns the layers."""
    layout = load_template(project, template or TEMPLATES[orientation])
    scale_to_paper(layout, paper, orientation)
    for key, value in content.variables.items():
        QgsExpressionContextUtils.setLayoutVariable(layout, key, value)
    layout.renderContext().setPredefinedScales(MAP_SCALES)

    map_item = item(layout, "map", QgsLayoutItemMap)
    map_item.setCrs(content.map_crs)
    map_item.setLayers(content.layers)
    map_item.setKeepLayerSet(True)
    map_item.setFollowVisibilityPreset(False)
    # Predefined atlas scaling derives each page's extent from the current one: start from a real one.
    to_map = QgsCoordinateTransform(content.coverage_crs, content.map_crs, project)
    start = to_map.transformBoundingBox(content.pages[0].geometry.boundingBox())
    map_item.zoomToExtent(start)
    map_item.setAtlasDriven(True)
    if map_item.atlasScalingMode() == QgsLayoutItemMap.Auto:
        map_item.setAtlasScalingMode(QgsLayoutItemMap.Predefined)
    layout.setReferenceMap(map_item)
    bar = item(layout, "scalebar", QgsLayoutItemScaleBar)
    if bar is not None:
        # Round metres that fit the bar between these widths, recomputed for each page's scale.
        bar.setLinkedMap(map_item)
        bar.setUnits(QgsUnitTypes.DistanceMeters)
        bar.setUnitLabel("m")
        bar.setSegmentSizeMode(QgsScaleBarSettings.SegmentSizeFitWidth)
        bar.setMinimumBarWidth(map_item.rect().width() * 0.2)
        bar.setMaximumBarWidth(map_item.rect().width() * 0.34)

    set_legend(layout, content.layers)
    fill_table(layout, "buildings_table", content.buildings_table)
    if content.containments_table is not None:
        fill_table(layout, "containments_table", content.containments_table, hide_zero_columns=False)
    else:
        for item_id in ("containments_table", "containments_heading"):
            found = item(layout, item_id)
            if found is not None:
                found.setVisibility(False)
    pages = coverage_layer(content)
    project.addMapLayer(pages, False)
    if any(page.ward is not None for page in content.pages):
        _veil_outside_ward(pages)
        map_item.setLayers([pages] + content.layers)
    atlas = layout.atlas()
    atlas.setCoverageLayer(pages)
    atlas.setHideCoverage(False)
    atlas.setPageNameExpression('coalesce("page_name", \'Whole zone\')')
    atlas.setFilenameExpression('"file_stem"')
    atlas.setEnabled(True)
    return layout


def export(layout, pdf_path=None, png_path=None, dpi=200, feedback=None, pdf_filter=""):
    """Write the PDF (one file, one page per atlas page matching `pdf_filter`) and one PNG per
    atlas page; returns the number of PDF pages."""
    atlas = layout.atlas()
    pages = 0
    if pdf_path:
        settings = QgsLayoutExporter.PdfExportSettings()
        settings.dpi = dpi
        # Text objects rather than outlines: planners can search and copy the numbers.
        settings.textRenderFormat = QgsRenderContext.TextFormatAlwaysText
        settings.predefinedMapScales = MAP_SCALES
        atlas.setFilterExpression(pdf_filter)
        atlas.setFilterFeatures(bool(pdf_filter))
        result, error = QgsLayoutExporter.exportToPdf(atlas, pdf_path, settings, feedback)
        _check(result, error, pdf_path, feedback)
        pages = atlas.count()
    if png_path:
        settings = QgsLayoutExporter.ImageExportSettings()
        settings.dpi = dpi
        settings.generateWorldFile = False
        settings.exportMetadata = False
        settings.predefinedMapScales = MAP_SCALES
        atlas.setFilterExpression("")
        atlas.setFilterFeatures(False)
        extension = os.path.splitext(png_path)[1].lstrip(".") or "png"
        result, error = QgsLayoutExporter.exportToImage(atlas, png_path, extension, settings, feedback)
        _check(result, error, png_path, feedback)
    return pages


def _check(result, error, path, feedback):
    if result == QgsLayoutExporter.Canceled or (feedback is not None and feedback.isCanceled()):
        raise QgsProcessingException("Cancelled: the map was not finished.")
    if result != QgsLayoutExporter.Success:
        raise QgsProcessingException(error or f"The map could not be written to {path} "
                                              "(is the file open in another program, or the folder read-only?).")


