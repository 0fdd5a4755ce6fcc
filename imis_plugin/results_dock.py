"""The IMIS results panel: the summary tables of the latest analysis, as IMIS's popup shows them.

Only presentation: the buttons emit signals that imis_plugin.results_controller handles.
"""
from qgis.gui import QgsDockWidget
from qgis.PyQt.QtCore import QSize, Qt, QTimer, pyqtSignal
from qgis.PyQt.QtGui import QFont
from qgis.PyQt.QtWidgets import (QAbstractItemView, QBoxLayout, QCheckBox, QFormLayout, QHBoxLayout, QHeaderView,
                                 QLabel, QProgressBar, QPushButton, QScrollArea, QSizePolicy, QTableWidget,
                                 QTableWidgetItem, QVBoxLayout, QWidget)

EMPTY_TEXT = ("Use the IMIS map tools (click a water body, a drain or sewer, a point or a ward) or run an IMIS "
              "analysis from the Processing toolbox: its summary shows here.")
TOTAL_LABEL = "Total"


def cell_text(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, float):
        return f"{value:,.0f}" if value.is_integer() else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def header_text(text):
    """A header one word a line ("Pit /" kept together), so IMIS's 12 columns fit a side panel."""
    text = str(text)
    if len(text) <= 9:
        return text
    lines = []
    for word in text.split(" "):
        if lines and (len(word) <= 1 or len(lines[-1]) <= 1 or len(lines[-1]) + len(word) < 8):
            lines[-1] += " " + word
        else:
            lines.append(word)
    if len(lines) > 3:  # a sentence-like header: two balanced lines instead
        words = text.split(" ")
        cut = min(range(1, len(words)), key=lambda i: abs(len(" ".join(words[:i])) - len(" ".join(words[i:]))))
        lines = [" ".join(words[:cut]), " ".join(words[cut:])]
    return "\n".join(lines)


WIDE = 900  # from this width on, the totals and tables stand side by side (a bottom panel)


class _Body(QWidget):
    def sizeHint(self):  # noqa: N802
        # As a bottom panel: IMIS's summary tables side by side below the map, like its popup.
        return QSize(1200, 330)


class ResultsDock(QgsDockWidget):
    zoomRequested = pyqtSignal()
    exportRequested = pyqtSignal()
    councilMapRequested = pyqtSignal()
    cancelRequested = pyqtSignal()

    def __init__(self, parent=None):
        super().__init__("IMIS results", parent)
        self.setObjectName("IMISResultsDock")
        self.result = None
        self.tables = {}  # output name -> QTableWidget
        self.sections = {}  # output name -> the widget holding its caption and table
        self.total_values = {}  # total label -> QLabel with its value

        body = _Body()
        layout = QVBoxLayout(body)
        layout.setContentsMargins(6, 6, 6, 6)
        self.title = QLabel()
        bold = QFont(self.title.font())
        bold.setBold(True)
        bold.setPointSizeF(bold.pointSizeF() * 1.15)
        self.title.setFont(bold)
        self.title.setWordWrap(True)
        self.subject = QLabel(EMPTY_TEXT)
        self.subject.setWordWrap(True)
        layout.addWidget(self.title)
        layout.addWidget(self.subject)

        running = QHBoxLayout()
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancelRequested)
        running.addWidget(self.progress, 1)
        running.addWidget(self.cancel_button)
        self.running_label = QLabel()
        self.running_label.setWordWrap(True)
        self.running_box = QWidget()
        box = QVBoxLayout(self.running_box)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(self.running_label)
        box.addLayout(running)
        self.running_box.hide()
        layout.addWidget(self.running_box)

        self.content = QWidget()
        # Side by side in a wide (bottom) panel, one below the other in a narrow (side) one.
        self.content_layout = QBoxLayout(QBoxLayout.LeftToRight)
        self.content.setLayout(self.content_layout)
        self.content_layout.setContentsMargins(0, 0, 0, 0)
        self.content_layout.setSpacing(12)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.NoFrame)
        # The content follows the panel's width; wide tables scroll sideways on their own.
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.scroll = scroll
        scroll.setWidget(self.content)
        layout.addWidget(scroll, 1)

        self.show_zero_columns = QCheckBox("Show sanitation columns that are 0 everywhere")
        self.show_zero_columns.setToolTip("IMIS's summary popup hides them; the Excel workbook always has all columns.")
        self.show_zero_columns.toggled.connect(self._apply_column_visibility)
        buttons = QHBoxLayout()
        self.zoom_button = QPushButton("Zoom to result")
        self.export_button = QPushButton("Export to Excel…")
        self.council_button = QPushButton("Council map…")
        self.zoom_button.clicked.connect(self.zoomRequested)
        self.export_button.clicked.connect(self.exportRequested)
        self.council_button.clicked.connect(self.councilMapRequested)
        for button in (self.zoom_button, self.export_button, self.council_button):
            buttons.addWidget(button)
        # One row in a wide panel, two in a narrow one.
        self.footer = QBoxLayout(QBoxLayout.LeftToRight)
        self.footer.addWidget(self.show_zero_columns)
        self.footer.addStretch(1)
        self.footer.addLayout(buttons)
        layout.addLayout(self.footer)
        self.setWidget(body)
        self.setMinimumWidth(360)
        self._set_buttons_enabled(False)

    # -- running ----------------------------------------------------------------------
    def show_running(self, text):
        self.running_label.setText(text)
        self.progress.setValue(0)
        self.cancel_button.setEnabled(True)
        self.running_box.show()

    def show_progress(self, value):
        self.progress.setValue(int(value))

    def show_idle(self):
        self.running_box.hide()

    # -- results ----------------------------------------------------------------------
    def show_result(self, result, council_reason=""):
        """Show `result` (analysis_results.AnalysisResult). `council_reason`: why no council map."""
        self.result = result
        self.title.setText(result.title)
        origin = "map tool" if result.from_map_tool else "Processing"
        self.subject.setText(f"{result.subject} · {origin}, {result.finished:%H:%M:%S}".lstrip(" ·"))
        self._clear_content()
        self._add_totals(result.totals)
        for table in result.tables:
            self._add_table(table)
        self.content_layout.addStretch(0)  # takes the spare height when the parts are stacked
        self._apply_column_visibility()
        QTimer.singleShot(0, self._fit_tables)  # once laid out, row heights and widths are final
        QTimer.singleShot(0, self._fit_panel_height)
        self._set_buttons_enabled(True)
        self.council_button.setEnabled(not council_reason)
        self.council_button.setToolTip(council_reason or "Print-ready map of this result (PDF and PNG).")

    def _set_buttons_enabled(self, enabled):
        for button in (self.zoom_button, self.export_button, self.council_button):
            button.setEnabled(enabled)

    def _clear_content(self):
        self.tables = {}
        self.sections = {}
        self.total_values = {}
        while self.content_layout.count():
            item = self.content_layout.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()

    def _add_totals(self, totals):
        if not totals:
            return
        box = QWidget()
        form = QFormLayout(box)
        form.setContentsMargins(0, 0, 0, 4)
        form.setFieldGrowthPolicy(QFormLayout.FieldsStayAtSizeHint)
        form.setLabelAlignment(Qt.AlignLeft)
        for label, value in totals:
            value_label = QLabel(cell_text(value))
            value_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
            form.addRow(label + ":", value_label)
            self.total_values[label] = value_label
        box.setSizePolicy(QSizePolicy.Maximum, QSizePolicy.Maximum)
        self.content_layout.addWidget(box, 0, Qt.AlignTop)

    def _add_table(self, table):
        section = QWidget()
        column = QVBoxLayout(section)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(QLabel(f"<b>{table.title}</b>"))
        widget = QTableWidget(len(table.rows), len(table.headers))
        widget.setObjectName(table.output)
        widget.setHorizontalHeaderLabels([header_text(h) for h in table.headers])
        widget.verticalHeader().hide()
        widget.setEditTriggers(QAbstractItemView.NoEditTriggers)
        widget.setSelectionMode(QAbstractItemView.ContiguousSelection)
        widget.setAlternatingRowColors(True)
        widget.setWordWrap(False)
        small = QFont(widget.font())
        small.setPointSizeF(small.pointSizeF() * 0.9)
        widget.setFont(small)
        widget.horizontalHeader().setFont(small)
        widget.setStyleSheet("QTableView::item { padding: 0px 2px; } QHeaderView::section { padding: 1px 2px; }")
        bold = QFont(small)
        bold.setBold(True)
        for r, row in enumerate(table.rows):
            is_total = str(row[0]).strip() == TOTAL_LABEL
            for c, value in enumerate(row):
                item = QTableWidgetItem(cell_text(value))
                item.setData(Qt.UserRole, value)
                if c > 0 and not isinstance(value, str):
                    item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
                if is_total:
                    item.setFont(bold)
                widget.setItem(r, c, item)
        header = widget.horizontalHeader()
        header.setDefaultAlignment(Qt.AlignCenter)
        if len(table.headers) <= 3:
            # A label and a count or two (containments by type): long labels are elided, the
            # counts always show; the full label is in the cell's tooltip.
            header.setSectionResizeMode(QHeaderView.ResizeToContents)
            header.setSectionResizeMode(0, QHeaderView.Stretch)
            for r, row in enumerate(table.rows):
                widget.item(r, 0).setToolTip(cell_text(row[0]))
        else:
            header.setSectionResizeMode(QHeaderView.ResizeToContents)
        widget.setHorizontalScrollBarPolicy(Qt.ScrollBarAsNeeded)
        widget.setVerticalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        widget.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Fixed)
        widget.setMinimumWidth(120)
        self.tables[table.output] = widget
        column.addWidget(widget)
        column.addStretch(1)
        section.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        self.sections[table.output] = section
        self.content_layout.addWidget(section, 1)

    def _fit_height(self, widget):
        """Every row visible without a vertical scroll bar (plus the sideways one when needed)."""
        widget.resizeRowsToContents()
        header = widget.horizontalHeader()
        height = header.sizeHint().height() + 2 * widget.frameWidth() + widget.verticalHeader().length()
        if header.length() > widget.width() - 2 * widget.frameWidth():
            height += widget.horizontalScrollBar().sizeHint().height()
        widget.setFixedHeight(height)

    @staticmethod
    def natural_width(widget):
        """Width showing every visible column whole (content or header, whichever is wider)."""
        header = widget.horizontalHeader()
        width = sum(max(widget.sizeHintForColumn(c), header.sectionSizeHint(c))
                    for c in range(widget.columnCount()) if not widget.isColumnHidden(c))
        return width + 2 * widget.frameWidth()

    def _fit_tables(self):
        stacked = self.content_layout.direction() == QBoxLayout.TopToBottom
        for output, widget in self.tables.items():
            # Side by side, each table gets room in proportion to what it needs to show whole.
            factor = 0 if stacked else max(1, self.natural_width(widget))
            self.content_layout.setStretchFactor(self.sections[output], factor)
            self._fit_height(widget)
        if self.content_layout.count():
            self.content_layout.setStretch(self.content_layout.count() - 1, 1 if stacked else 0)

    def _fit_panel_height(self):
        """As a top or bottom panel, take the height the result needs (at most 45 % of the window)."""
        from qgis.PyQt.QtWidgets import QMainWindow

        main = self.parent()
        if not isinstance(main, QMainWindow) or self.isFloating() or \
                main.dockWidgetArea(self) not in (Qt.BottomDockWidgetArea, Qt.TopDockWidgetArea):
            return
        self._fit_tables()
        content = max([self.content_layout.itemAt(i).widget().sizeHint().height()
                       for i in range(self.content_layout.count()) if self.content_layout.itemAt(i).widget()] or [0])
        chrome = self.height() - self.scroll.viewport().height()
        needed = min(int(main.height() * 0.45), chrome + content + 8)
        if needed > self.height():
            main.resizeDocks([self], [needed], Qt.Vertical)

    def _apply_column_visibility(self):
        if self.result is None:
            return
        show_all = self.show_zero_columns.isChecked()
        for table in self.result.tables:
            widget = self.tables.get(table.output)
            if widget is None:
                continue
            hidden = set() if show_all else set(table.zero_columns())
            for column in range(widget.columnCount()):
                widget.setColumnHidden(column, column in hidden)
            widget.resizeColumnsToContents()
            self._fit_height(widget)

    def visible_headers(self, output):
        """Headers of the columns shown (for tests and for reading the panel)."""
        widget = self.tables[output]
        return [self.result.table(output).headers[c] for c in range(widget.columnCount())
                if not widget.isColumnHidden(c)]

    def cells(self, output):
        """The cell texts of a table, row by row, all columns (hidden ones too)."""
        widget = self.tables[output]
        return [[widget.item(r, c).text() for c in range(widget.columnCount())] for r in range(widget.rowCount())]

    def resizeEvent(self, event):  # noqa: N802
        super().resizeEvent(event)
        wide = self.width() >= WIDE
        self.content_layout.setDirection(QBoxLayout.LeftToRight if wide else QBoxLayout.TopToBottom)
        self.footer.setDirection(QBoxLayout.LeftToRight if wide else QBoxLayout.TopToBottom)
        QTimer.singleShot(0, self._fit_tables)
