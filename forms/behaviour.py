"""What the IMIS forms do while the editor types (IMIS's form scripts, public/js/functions.js):

* Population of Building = male + female + other population, as those are typed;
* House Number pre-filled '<road code> - NNNN' when a road is chosen (NNNN = live buildings on
  the road + 1), unless the editor typed one;
* Containment Volume computed from the dimensions, unless the editor typed one;
* the row's updated_at noted when the form opens, so a save refuses to overwrite a change made
  in IMIS meanwhile (EDITING.md §10).

QGIS runs Python form code only through its Python runner (and asks the user for permission);
instead the plugin attaches this behaviour through an invisible editor widget on the hidden
`updated_at` field: when the form shows a feature, the widget finds its form and connects.
"""
from qgis.core import QgsExpression, QgsFeatureRequest
from qgis.gui import QgsAttributeForm, QgsEditorConfigWidget, QgsEditorWidgetFactory, QgsEditorWidgetWrapper
from qgis.PyQt.QtCore import QObject
from qgis.PyQt.QtWidgets import QWidget

from . import rules
from .expressions import facts_for
from .values import record, to_python

WIDGET_TYPE = "IMISFormBehaviour"
HOST_FIELD = "updated_at"
OBJECT_NAME = "imis_form_behaviour"
POPULATION_PARTS = ("male_population", "female_population", "other_population")
VOLUME_INPUTS = ("type_id", "tank_length", "tank_width", "depth", "pit_diameter")


_ALIVE = {}  # id -> behaviour: the Python side must live as long as its form, whatever the garbage collector thinks


class FormBehaviour(QObject):
    """Lives as a child of one QgsAttributeForm."""

    def __init__(self, form, layer, table):
        super().__init__(form)
        self.setObjectName(OBJECT_NAME)
        key = id(self)
        _ALIVE[key] = self
        self.destroyed.connect(lambda *_: _ALIVE.pop(key, None))
        self.form = form
        self.layer = layer
        self.table = table
        self.suggested = {}  # field -> value the plugin filled in (replaced while the editor keeps it)
        form.widgetValueChanged.connect(self._changed)

    def feature_set(self, feature):
        self.suggested = {}
        if feature is not None and feature.id() >= 0:
            from .setup import session_for

            session = session_for(self.layer)
            if session is not None and self.layer.isEditable():
                session.remember_versions(self.table, [feature.id()])

    def _current(self):
        return record(self.form.currentFormFeature())

    def _fill(self, name, value, current):
        """Fill `name` unless the editor typed a value of their own there."""
        old = current.get(name)
        if rules.blank(old) or name in self.suggested and _same(self.suggested[name], old):
            self.suggested[name] = value
            self.form.changeAttribute(name, value)

    def _changed(self, name, value, attribute_changed):
        if not attribute_changed or not self.layer.isEditable():
            return
        try:
            if self.table == "buildings":
                if name in POPULATION_PARTS:
                    self._population()
                elif name == "road_code":
                    self._house_number(to_python(value))
            elif name in VOLUME_INPUTS:
                self._volume()
        except Exception as error:  # noqa: BLE001 - a convenience must never break the form
            from qgis.core import Qgis, QgsMessageLog

            QgsMessageLog.logMessage(f"IMIS form: filling {name}'s dependent field failed: {error}", "IMIS",
                                     Qgis.Warning)

    def _population(self):
        current = self._current()
        parts = [current.get(name) for name in POPULATION_PARTS]
        if all(rules.blank(p) for p in parts):
            return
        try:
            total = sum(int(p) for p in parts if not rules.blank(p))
        except (TypeError, ValueError):
            return
        self.suggested["population_served"] = total
        self.form.changeAttribute("population_served", total)

    def _house_number(self, road):
        current = self._current()
        if rules.blank(road):
            return
        expression = f"\"road_code\" = {QgsExpression.quotedValue(road)}"
        request = QgsFeatureRequest().setFilterExpression(expression).setFlags(QgsFeatureRequest.NoGeometry)
        request.setNoAttributes()
        on_road = sum(1 for f in self.layer.getFeatures(request) if f.id() >= 0)
        self._fill("house_number", rules.house_number_suggestion(road, on_road), current)

    def _volume(self):
        current = self._current()
        volume = rules.containment_volume(current, facts_for(self.layer.id()))
        if volume is not None:
            self._fill("size", float(volume), current)


def _same(a, b):
    """Equal as the widget shows them (a number typed as text equals the number)."""
    try:
        return rules.round2(a) == rules.round2(b)
    except ValueError:
        return str(a) == str(b)


class _Wrapper(QgsEditorWidgetWrapper):
    """Invisible; changes nothing; attaches FormBehaviour to its form."""

    def __init__(self, layer, field_index, editor, parent, table):
        super().__init__(layer, field_index, editor, parent)
        self.table = table

    def createWidget(self, parent):  # noqa: N802
        widget = QWidget(parent)
        widget.setVisible(False)
        return widget

    def initWidget(self, editor):  # noqa: N802
        pass

    def valid(self):
        return True

    def value(self):
        return None  # an invalid value: "no change"

    def setValue(self, value):  # noqa: N802
        pass

    def setFeature(self, feature):  # noqa: N802
        super().setFeature(feature)
        form = self._form()
        if form is None:
            return
        behaviour = next((b for b in _ALIVE.values() if b.parent() is not None and b.parent() == form), None)
        if behaviour is None:
            behaviour = FormBehaviour(form, self.layer(), self.table)
        behaviour.feature_set(feature)

    def _form(self):
        from qgis.PyQt import sip

        widget = self.widget()
        parent = widget.parentWidget() if widget is not None else None
        while parent is not None and parent.metaObject().className() != "QgsAttributeForm":
            parent = parent.parentWidget()
        return sip.cast(parent, QgsAttributeForm) if parent is not None else None


class _Factory(QgsEditorWidgetFactory):
    def __init__(self):
        super().__init__("IMIS form behaviour")

    def create(self, layer, field_index, editor, parent):
        table = "buildings" if layer.fields().indexOf("bin") >= 0 and layer.fields().indexOf("tax_code") >= 0 \
            else "containments"
        return _Wrapper(layer, field_index, editor, parent, table)

    def configWidget(self, layer, field_index, parent):  # noqa: N802
        return QgsEditorConfigWidget(layer, field_index, parent)


_FACTORY = None


def register():
    """Register the widget type once per QGIS session (QGIS cannot unregister widget types)."""
    global _FACTORY
    from qgis.gui import QgsGui

    registry = QgsGui.editorWidgetRegistry()
    if WIDGET_TYPE not in registry.factories():
        _FACTORY = _Factory()
        registry.registerWidget(WIDGET_TYPE, _FACTORY)
