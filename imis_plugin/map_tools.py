"""Click-and-analyse map tools on the IMIS toolbar, as IMIS users know them from the web map.

Each tool: click a feature (or a point) -> a small dialog asks the distance (remembering the
last one) -> the matching Processing algorithm runs in the background on exactly that feature
(results_controller / analysis_runner), and its result shows in the IMIS results panel.

The click looks only in the IMIS layers "Load IMIS layers" added (by their layer key), and only
in those visible on the map. Like IMIS, a tool wants exactly one feature: a click on nothing or
on two features says so and how to pick one, in the message bar.
"""
import os
from dataclasses import dataclass

from qgis.core import (Qgis, QgsCoordinateReferenceSystem, QgsCoordinateTransform, QgsCsException,
                       QgsDataSourceUri, QgsExpression, QgsFeatureRequest, QgsGeometry,
                       QgsProcessingFeatureSourceDefinition, QgsProject, QgsProviderRegistry, QgsRectangle,
                       QgsSettings, QgsVectorLayer, QgsWkbTypes)
from qgis.gui import QgsDoubleSpinBox, QgsMapTool
from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtGui import QIcon
from qgis.PyQt.QtWidgets import QAction, QDialog, QDialogButtonBox, QFormLayout, QLabel, QVBoxLayout

from .analysis_results import TEMPORARY_OUTPUT
from .analysis_runner import RunRefused
from .layers import KEY_PROPERTY, MAP_LAYERS
from .provider import ICON_PATH
from .results_controller import AnalysisRequest

TITLE = "IMIS"
WGS84 = QgsCoordinateReferenceSystem("EPSG:4326")
ICON_DIR = os.path.dirname(ICON_PATH)
LAYER_TITLES = {spec.key: spec.title for spec in MAP_LAYERS}


@dataclass(frozen=True)
class ToolSpec:
    key: str
    label: str
    tooltip: str
    algorithm_id: str
    pick_keys: tuple  # IMIS layer keys a click looks in; () = a point tool
    noun: str
    nouns: str
    default_distance: float
    distance_label: str = "Buffer distance (m)"


TOOLS = (
    ToolSpec("waterbody", "Water body buffer",
             "Water body buffer: click a river or pond, give a distance: the buildings and containments within it "
             "(IMIS: Water Bodies Buffer Summary Information).",
             "imis:waterbodybuffer", ("rivers", "ponds"), "water body", "water bodies", 100.0),
    ToolSpec("candidates", "Drain/sewer connection candidates",
             "Drain/sewer connection candidates: click a drain or a sewer, give a distance: the buildings near it "
             "that could be connected (IMIS: Sewers Potential Buildings, for drains too).",
             "imis:connectioncandidates", ("drains", "sewers"), "drain or sewer", "drains or sewers", 30.0),
    ToolSpec("point", "Point buffer",
             "Point buffer: click a point, give a distance: the buildings and containments within it "
             "(IMIS: Point Buffer Summary Information).",
             "imis:pointbuffer", (), "point", "points", 100.0),
    ToolSpec("watersupply", "Water supply coverage",
             "Water supply coverage: click a ward, give the reach of a service connection: which buildings of the "
             "ward are connected to the piped supply and which could be (not an IMIS analysis).",
             "imis:watersupplycoverage", ("wards",), "ward", "wards", 50.0, "Reach of a service connection (m)"),
)
TOOLS_BY_KEY = {spec.key: spec for spec in TOOLS}


def distance_setting(spec):
    return f"imis/map_tools/{spec.key}/distance"


def last_distance(spec):
    return QgsSettings().value(distance_setting(spec), spec.default_distance, type=float)


# -- which layers ------------------------------------------------------------------------
def _database(layer):
    """What identifies the data behind a layer: provider and database (or file)."""
    if layer.providerType() == "postgres":
        uri = QgsDataSourceUri(layer.source())
        return ("postgres", uri.service(), uri.host(), uri.port(), uri.database())
    parts = QgsProviderRegistry.instance().decodeUri(layer.providerType(), layer.source())
    return (layer.providerType(), parts.get("path") or layer.source())


def imis_layers(key, project=None):
    project = project or QgsProject.instance()
    return [layer for layer in project.mapLayers().values()
            if isinstance(layer, QgsVectorLayer) and layer.isValid() and layer.customProperty(KEY_PROPERTY) == key]


def imis_layer(key, like=None, project=None):
    """The project's IMIS layer `key`, preferably from the same database as `like`."""
    layers = imis_layers(key, project)
    if like is not None:
        same = [layer for layer in layers if _database(layer) == _database(like)]
        if same:
            return same[0]
    return layers[0] if layers else None


def visible(layer, canvas=None):
    node = QgsProject.instance().layerTreeRoot().findLayer(layer.id())
    if node is not None and not node.isVisible():
        return False
    if canvas is not None and layer.hasScaleBasedVisibility() and not layer.isInScaleRange(canvas.scale()):
        return False
    return True


def features_at(canvas, layers, map_point):
    """[(layer, feature)] under a click: polygons containing it, else features within the search radius."""
    radius = QgsMapTool.searchRadiusMU(canvas)
    map_crs = canvas.mapSettings().destinationCrs()
    box = QgsRectangle(map_point.x() - radius, map_point.y() - radius, map_point.x() + radius, map_point.y() + radius)
    inside, near = [], []
    for layer in layers:
        transform = QgsCoordinateTransform(map_crs, layer.crs(), QgsProject.instance().transformContext())
        try:
            rect = transform.transformBoundingBox(box)
            point = QgsGeometry.fromPointXY(transform.transform(map_point))
        except QgsCsException:
            continue
        around = QgsGeometry.fromRect(rect)
        polygons = layer.geometryType() == QgsWkbTypes.PolygonGeometry
        for feature in layer.getFeatures(QgsFeatureRequest().setFilterRect(rect)):
            geometry = feature.geometry()
            if geometry.isNull() or geometry.isEmpty():
                continue
            if polygons and geometry.contains(point):
                inside.append((layer, feature))
            elif geometry.intersects(around):
                near.append((layer, feature))
    return inside or near


def _value(feature, name):
    index = feature.fields().lookupField(name)
    if index < 0:
        return None
    value = feature.attribute(index)
    return None if value is None or (hasattr(value, "isNull") and value.isNull()) else value


def describe_feature(spec, layer, feature):
    """A picked feature in words, e.g. "River 'Rupsha' (id 3)", "drain D-12", "ward 5"."""
    if spec.key == "waterbody":
        kind = str(_value(feature, "type") or "water body").strip()
        text = kind[:1].upper() + kind[1:]
        name = _value(feature, "name")
        if name:
            text += f" '{name}'"
        ident = _value(feature, "id")
        return text + (f" (id {ident})" if ident is not None else "")
    if spec.key == "candidates":
        key = layer.customProperty(KEY_PROPERTY)
        noun = "sewer" if key == "sewers" or (key != "drains" and "sewer" in layer.name().lower()) else "drain"
        code = _value(feature, "code")
        return f"{noun} {code}" if code is not None else f"{noun} (feature {feature.id()})"
    if spec.key == "watersupply":
        ward = _value(feature, "ward")
        name = _value(feature, "name")
        text = f"ward {ward}" if ward is not None else f"ward (feature {feature.id()})"
        return text + (f" ({name})" if name and str(name) != str(ward) else "")
    return f"feature {feature.id()} of '{layer.name()}'"


def describe_point(point):
    """A point in EPSG:4326 in words."""
    return f"the point {point.x():.5f}, {point.y():.5f} (longitude, latitude)"


# -- requests ----------------------------------------------------------------------------
def output_parameters(algorithm_id):
    """Every output of the algorithm: layers as temporary outputs, the workbook not written."""
    from qgis.core import QgsApplication

    algorithm = QgsApplication.processingRegistry().algorithmById(algorithm_id)
    if algorithm is None:
        raise RunRefused(f"The Processing algorithm {algorithm_id} is not available: check that the IMIS plugin is "
                         "enabled and up to date.")
    parameters = {}
    for definition in algorithm.destinationParameterDefinitions():
        is_file = definition.type() == "fileDestination"
        parameters[definition.name()] = None if is_file else TEMPORARY_OUTPUT
    return parameters


def _targets(like):
    """(buildings, containments or None) of the project, from the same data as `like` if possible."""
    buildings = imis_layer("buildings", like)
    if buildings is None:
        raise RunRefused("The buildings layer is not in the project. Load the IMIS layers first (IMIS > Load IMIS "
                         "layers).")
    return buildings, imis_layer("containments", like or buildings)


def build_request(spec, distance, pick=None, point=None):
    """AnalysisRequest for a tool: `pick` = (layer, feature) clicked, or `point` in EPSG:4326."""
    parameters = output_parameters(spec.algorithm_id)
    parameters["DISTANCE"] = float(distance)
    selections, zone, building_filter = {}, None, ""
    if pick is not None:
        layer, feature = pick
        what = describe_feature(spec, layer, feature)
        chosen = QgsProcessingFeatureSourceDefinition(layer.id(), True)
        selections = {layer: [feature.id()]}
        buildings, containments = _targets(layer)
    else:
        what = describe_point(point)
        buildings, containments = _targets(None)
    common = {"BUILDINGS": buildings.id(), "CONTAINMENTS": containments.id() if containments is not None else None}
    d = f"{float(distance):g} m"
    if spec.key == "waterbody":
        parameters.update(common, WATERBODIES=chosen)
        title = f"Buildings and containments within {d} of {what}"
    elif spec.key == "candidates":
        parameters.update(common, NETWORK=chosen)
        title = f"Buildings that could be connected to {what} (within {d})"
        zone = ([QgsGeometry(pick[1].geometry())], pick[0].crs(), float(distance), what)
    elif spec.key == "point":
        parameters.update(common, POINT=f"{point.x()!r},{point.y()!r} [EPSG:4326]")
        title = f"Buildings and containments within {d} of {what}"
    elif spec.key == "watersupply":
        pipes = imis_layer("water_supply", pick[0])
        if pipes is None:
            raise RunRefused("The water supply pipes layer is not in the project. Load the IMIS layers first (IMIS > "
                             "Load IMIS layers).")
        parameters.update(PIPES=pipes.id(), BUILDINGS=buildings.id(), WARDS=chosen)
        title = f"Water supply coverage of {what} (reach {d})"
        ward = _value(pick[1], "ward")
        if ward is not None:
            # Every building of the town is classified; the map shows the clicked ward's.
            building_filter = QgsExpression.createFieldEqualityExpression("ward", ward)
    else:
        raise RunRefused(f"Unknown map tool {spec.key}.")
    return AnalysisRequest(spec.algorithm_id, parameters, selections, f"{what[:1].upper()}{what[1:]}, {d}",
                           map_title=title, zone=zone, building_filter=building_filter)


# -- dialog ------------------------------------------------------------------------------
class DistanceDialog(QDialog):
    """Asks the distance for one analysis; remembers the last value of each tool."""

    def __init__(self, spec, subject, parent=None):
        super().__init__(parent)
        self.spec = spec
        self.setWindowTitle(spec.label)
        layout = QVBoxLayout(self)
        about = QLabel(subject[:1].upper() + subject[1:])
        about.setWordWrap(True)
        layout.addWidget(about)
        form = QFormLayout()
        self.distance = QgsDoubleSpinBox()
        self.distance.setRange(0.0, 100000.0)
        self.distance.setDecimals(2)
        self.distance.setSingleStep(5.0)
        self.distance.setSuffix(" m")
        self.distance.setShowClearButton(True)
        self.distance.setClearValue(spec.default_distance)
        self.distance.setValue(last_distance(spec))
        form.addRow(spec.distance_label.replace(" (m)", ""), self.distance)
        layout.addLayout(form)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.button(QDialogButtonBox.Ok).setText("Run")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.buttons = buttons
        layout.addWidget(buttons)

    def value(self):
        return self.distance.value()

    def accept(self):
        QgsSettings().setValue(distance_setting(self.spec), self.value())
        super().accept()


# -- tools -------------------------------------------------------------------------------
class ImisMapTool(QgsMapTool):
    """Click -> distance dialog -> analysis. One instance per toolbar button."""

    def __init__(self, canvas, spec, manager):
        super().__init__(canvas)
        self.spec = spec
        self.manager = manager
        self.dialog = None
        self.setCursor(Qt.CrossCursor)

    def canvasReleaseEvent(self, event):  # noqa: N802
        if event.button() != Qt.LeftButton:
            return
        if self.spec.pick_keys:
            self._pick_feature(event.mapPoint())
        else:
            self._pick_point(event.mapPoint())

    def _pick_point(self, map_point):
        transform = QgsCoordinateTransform(self.canvas().mapSettings().destinationCrs(), WGS84,
                                           QgsProject.instance().transformContext())
        try:
            point = transform.transform(map_point)
        except QgsCsException:
            self.manager.warn("This point cannot be converted to longitude/latitude: click inside the town.")
            return
        self._ask(describe_point(point), lambda distance: build_request(self.spec, distance, point=point))

    def _pick_feature(self, map_point):
        spec = self.spec
        names = " and ".join(f"'{LAYER_TITLES.get(key, key)}'" for key in spec.pick_keys)
        layers = [layer for key in spec.pick_keys for layer in imis_layers(key)]
        if not layers:
            self.manager.warn(f"{spec.label} picks {spec.nouns} from the IMIS layers {names}, which are not in the "
                              f"project. Load them first: IMIS > Load IMIS layers.")
            return
        shown = [layer for layer in layers if visible(layer, self.canvas())]
        if not shown:
            self.manager.warn(f"The layers {names} are hidden. Turn one of them on to click a {spec.noun}.")
            return
        hits = features_at(self.canvas(), shown, map_point)
        if not hits:
            self.manager.warn(f"No {spec.noun} here. Click on a {spec.noun} of the layers {names}"
                              + (" (zoom in to hit a line more easily)." if spec.key == "candidates" else "."))
            return
        if len(hits) > 1:
            listed = "; ".join(describe_feature(spec, layer, feature) for layer, feature in hits[:3])
            more = f" and {len(hits) - 3} more" if len(hits) > 3 else ""
            self.manager.warn(f"{len(hits)} {spec.nouns} here ({listed}{more}). Zoom in and click where only one of "
                              f"them is, or hide the layer you do not want.")
            return
        layer, feature = hits[0]
        self._ask(describe_feature(spec, layer, feature),
                  lambda distance: build_request(self.spec, distance, pick=(layer, feature)))

    def _ask(self, subject, make_request):
        if self.dialog is not None:
            self.dialog.deleteLater()
        self.dialog = DistanceDialog(self.spec, subject, self.canvas().window())

        def run():
            try:
                request = make_request(self.dialog.value())
            except RunRefused as refused:
                self.manager.warn(str(refused))
                return
            self.manager.controller.run_analysis(request)

        self.dialog.accepted.connect(run)
        # Window-modal and non-blocking: no nested event loop while QGIS waits for the answer.
        self.dialog.open()

    def deactivate(self):
        if self.dialog is not None and self.dialog.isVisible():
            self.dialog.reject()
        super().deactivate()


class MapTools:
    """The four tools, their toolbar buttons and menu entries (created in initGui, removed in unload)."""

    def __init__(self, iface, controller, toolbar, menu):
        self.iface = iface
        self.controller = controller
        self.toolbar = toolbar
        self.menu = menu
        self.actions = {}
        self.tools = {}
        canvas = iface.mapCanvas()
        for spec in TOOLS:
            icon = os.path.join(ICON_DIR, f"map_{spec.key}.svg")
            action = QAction(QIcon(icon if os.path.exists(icon) else ICON_PATH), spec.label, iface.mainWindow())
            action.setCheckable(True)
            action.setToolTip(spec.tooltip)
            action.setStatusTip(spec.tooltip)
            action.setObjectName(f"imis_map_tool_{spec.key}")
            tool = ImisMapTool(canvas, spec, self)
            tool.setAction(action)  # QGIS unchecks it when another map tool is chosen
            action.triggered.connect(lambda checked, t=tool: self.activate(t))
            toolbar.addAction(action)
            iface.addPluginToMenu(menu, action)
            self.actions[spec.key] = action
            self.tools[spec.key] = tool

    def activate(self, tool):
        self.iface.mapCanvas().setMapTool(tool)
        tool.action().setChecked(True)

    def warn(self, text):
        self.iface.messageBar().pushMessage(TITLE, text, level=Qgis.Warning, duration=10)

    def unload(self):
        canvas = self.iface.mapCanvas()
        for key, tool in self.tools.items():
            if canvas.mapTool() is tool:
                canvas.unsetMapTool(tool)
            if tool.dialog is not None:
                tool.dialog.deleteLater()
            action = self.actions[key]
            self.iface.removePluginMenu(self.menu, action)
            self.toolbar.removeAction(action)
            action.deleteLater()
            tool.deleteLater()
        self.tools, self.actions = {}, {}
