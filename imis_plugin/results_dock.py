"""The IMIS results panel: the summary tables of the latest analysis, as IMIS's popup shows them.

Only presentation: the buttons emit signals that imis_plugin.results_controller handles.
"""
from qgis.gui import QgsDockWidget
from qgis.PyQt.QtCore import Qt, pyqtSignal
from qgis.PyQt.QtGui import QFont
from qgis.PyQt.QtWidgets import (QAbstractItemView, QCheckBox, QFormLayout, QHBoxLayout, QHeaderView, QLabel,
                                 QProgressBar, QPushButton, QScrollArea, QSizePolicy, QTableWidget,
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
    """Long headers on two lines, so a 12-column table fits a side panel."""
    words = str(text).split(" ")
    if len(text) <= 10 or len(words) < 2:
        return str(text)
    best = min(range(1, len(words)), key=lambda i: abs(len(" ".join(words[:i])) - len(" ".join(words[i:]))))
    return " ".join(words[:best]) + "\n" + " ".join(words[best:])


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
        self.total_values = {}  # total label -> QLabel with its value

        body = QWidget()
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
        self.content_layout = QVBoxLayout(self.content)
        self.content_layout.setContentsMargins(0, 0, 0, 0)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.NoFrame)
        scroll.setWidget(self.content)
        layout.addWidget(scroll, 1)

        self.show_zero_columns = QCheckBox("Show sanitation columns that are 0 everywhere")
        self.show_zero_columns.setToolTip("IMIS's summary popup hides them; the Excel workbook always has all columns.")
        self.show_zero_columns.toggled.connect(self._apply_column_visibility)
        layout.addWidget(self.show_zero_columns)
        buttons = QHBoxLayout()
        self.zoom_button = QPushButton("Zoom to result")
        self.export_button = QPushButton("Export to Excel…")
        self.council_button = QPushButton("Council map…")
        self.zoom_button.clicked.connect(self.zoomRequested)
        self.export_button.clicked.connect(self.exportRequested)
        self.council_button.clicked.connect(self.councilMapRequested)
        for button in (self.zoom_button, self.export_button, self.council_button):
            buttons.addWidget(button)
        layout.addLayout(buttons)
        self.setWidget(body)
        self.setMinimumWidth(430)
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
        self.content_layout.addStretch(1)
        self._apply_column_visibility()
        self._set_buttons_enabled(True)
        self.council_button.setEnabled(not council_reason)
        self.council_button.setToolTip(council_reason or "Print-ready map of this result (PDF and PNG).")

    def _set_buttons_enabled(self, enabled):
        for button in (self.zoom_button, self.export_button, self.council_button):
            button.setEnabled(enabled)

    def _clear_content(self):
        self.tables = {}
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
        form.setLabelAlignment(Qt.AlignLeft)
        for label, value in totals:
            value_label = QLabel(cell_text(value))
            value_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
            form.addRow(label + ":", value_label)
            self.total_values[label] = value_label
        self.content_layout.addWidget(box)

    def _add_table(self, table):
        caption = QLabel(f"<b>{table.title}</b>")
        self.content_layout.addWidget(caption)
        widget = QTableWidget(len(table.rows), len(table.headers))
        widget.setObjectName(table.output)
        widget.setHorizontalHeaderLabels([header_text(h) for h in table.headers])
        widget.verticalHeader().hide()
        widget.setEditTriggers(QAbstractItemView.NoEditTriggers)
        widget.setSelectionMode(QAbstractItemView.ContiguousSelection)
        widget.setAlternatingRowColors(True)
        widget.setWordWrap(False)
        bold = QFont(widget.font())
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
        header.setSectionResizeMode(QHeaderView.ResizeToContents)
        header.setDefaultAlignment(Qt.AlignCenter)
        widget.setHorizontalScrollBarPolicy(Qt.ScrollBarAsNeeded)
        widget.setVerticalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        widget.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)
        self.tables[table.output] = widget
        self.content_layout.addWidget(widget)

    def _fit_height(self, widget):
        widget.resizeRowsToContents()
        height = widget.horizontalHeader().height() + 2 * widget.frameWidth()
        height += sum(widget.rowHeight(r) for r in range(widget.rowCount()))
        if widget.horizontalScrollBar().isVisible() or \
                widget.horizontalHeader().length() > widget.viewport().width():
            height += widget.horizontalScrollBar().sizeHint().height()
        widget.setFixedHeight(height)

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
        for widget in self.tables.values():
            self._fit_height(widget)
