"""The plugin object QGIS creates: menu, toolbar, map tools, results panel and Processing provider."""
import os

from qgis.core import QgsApplication
from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtGui import QIcon
from qgis.PyQt.QtWidgets import QAction, QFileDialog, QMessageBox

from .provider import ICON_PATH, ImisProvider

MENU = "&IMIS"


class ImisPlugin:
    def __init__(self, iface):
        self.iface = iface  # None under qgis_process
        self.provider = None
        self.actions = []
        self.toolbar = None
        self.dock = None
        self.results = None
        self.map_tools = None

    # Processing: called by QGIS (also by qgis_process) before initGui.
    def initProcessing(self):  # noqa: N802
        if self.provider is None:
            try:
                from .. import resources  # noqa: F401  compiled icons, present in built packages
            except ImportError:
                pass
            self.provider = ImisProvider()
            QgsApplication.processingRegistry().addProvider(self.provider)

    def initGui(self):  # noqa: N802
        self.initProcessing()
        if self.iface is None:
            return
        self.toolbar = self.iface.addToolBar("IMIS")
        self.toolbar.setObjectName("IMISToolbar")
        self._add_action("IMIS database settings…", self.open_settings, toolbar=False)
        self._add_action("Check IMIS database", self.check_database, toolbar=False)
        self._add_action("Load IMIS layers from the IMIS database", self.load_layers_postgis)
        self._add_action("Load IMIS layers from a GeoPackage…", self.load_layers_gpkg, toolbar=False)
        self._init_analysis_gui()

    def _init_analysis_gui(self):
        """Results panel and the click-and-analyse map tools (issue 9)."""
        from .map_tools import MapTools
        from .results_controller import ResultsController
        from .results_dock import ResultsDock

        self.dock = ResultsDock(self.iface.mainWindow())
        self.iface.addDockWidget(Qt.BottomDockWidgetArea, self.dock)
        self.dock.hide()  # shown by the first result
        self.results = ResultsController(self.iface, self.dock)
        self.toolbar.addSeparator()
        self.map_tools = MapTools(self.iface, self.results, self.toolbar, MENU)
        self._panel_action = self.dock.toggleViewAction()
        self._panel_action.setText("IMIS results panel")
        self.iface.addPluginToMenu(MENU, self._panel_action)

    def _add_action(self, text, callback, toolbar=True):
        action = QAction(QIcon(ICON_PATH), text, self.iface.mainWindow())
        action.triggered.connect(callback)
        self.iface.addPluginToMenu(MENU, action)
        if toolbar:
            self.toolbar.addAction(action)
        self.actions.append(action)
        return action

    def unload(self):
        if self.map_tools is not None:
            self.map_tools.unload()
            self.map_tools = None
        if self.results is not None:
            self.results.close()
            self.results = None
        if self.dock is not None:
            self.iface.removePluginMenu(MENU, self._panel_action)
            self.iface.removeDockWidget(self.dock)
            self.dock.deleteLater()
            self.dock = None
        for action in self.actions:
            if self.iface is not None:
                self.iface.removePluginMenu(MENU, action)
            action.deleteLater()
        self.actions = []
        if self.toolbar is not None:
            self.toolbar.deleteLater()
            self.toolbar = None
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
        from ..forms.setup import unload as unload_forms

        unload_forms()

    # Actions
    def open_settings(self):
        from .settings_dialog import SettingsDialog

        SettingsDialog(self.iface.mainWindow()).exec_()
        from ..forms.setup import refresh_editability

        refresh_editability()  # editing is allowed exactly when an IMIS user is chosen

    def check_database(self):
        from . import db
        from .schema_check import check_database

        try:
            conn = db.connect_saved()
        except db.ImisDbError as error:
            QMessageBox.warning(self.iface.mainWindow(), "IMIS database", str(error))
            return
        try:
            report = check_database(conn)
        finally:
            conn.close()
        QMessageBox.information(self.iface.mainWindow(), "IMIS database", "\n".join(report.lines()))

    def load_layers_postgis(self):
        from . import db, settings

        name = settings.connection_name()
        if not name:
            QMessageBox.warning(
                self.iface.mainWindow(), "IMIS", "Choose the IMIS database first: IMIS > IMIS database settings."
            )
            return
        try:
            self._load(connection_name=name)
        except db.ImisDbError as error:
            QMessageBox.warning(self.iface.mainWindow(), "IMIS", str(error))

    def load_layers_gpkg(self):
        path, _ = QFileDialog.getOpenFileName(
            self.iface.mainWindow(), "IMIS GeoPackage", os.path.expanduser("~"), "GeoPackage (*.gpkg)"
        )
        if path:
            self._load(gpkg_path=path)

    def _load(self, **source):
        from .layers import load_imis_layers

        layers, problems = load_imis_layers(**source)
        if problems:
            self.iface.messageBar().pushWarning("IMIS", " ".join(problems))
        else:
            self.iface.messageBar().pushSuccess("IMIS", f"Loaded {len(layers)} IMIS layers.")
