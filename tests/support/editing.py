"""Helpers for the editing tests: a writable sample town loaded in QGIS, real attribute dialogs,
widgets filled the way an editor fills them, and SQL oracles."""
import itertools

import pytest

_COUNTER = itertools.count(1)
OPEN_FORMS = []  # closed before the test's layers go away (a dialog outliving its layer crashes QGIS)


class EditTown:
    """The sample town's writable copy loaded with "Load IMIS layers", for one test."""

    def __init__(self, db, layers, user_id, project):
        self.db = db
        self.layers = layers
        self.user_id = user_id
        self.project = project

    def __getitem__(self, key):
        return self.layers[key]

    def query(self, sql, params=None):
        return self.db.query(sql, params)

    def one(self, sql, params=None):
        rows = self.db.query(sql, params)
        assert rows, f"no row for: {sql} {params}"
        return rows[0] if len(rows[0]) > 1 else rows[0][0]

    def execute(self, sql, params=None):
        conn = self.db.connect()
        try:
            with conn.cursor() as cur:
                cur.execute(sql, params)
            conn.commit()
        finally:
            conn.close()

    def feature(self, key, column, value):
        from qgis.core import QgsExpression, QgsFeatureRequest

        layer = self.layers[key]
        expression = f"{QgsExpression.quotedColumnRef(column)} = {QgsExpression.quotedValue(value)}"
        features = list(layer.getFeatures(QgsFeatureRequest().setFilterExpression(expression)))
        assert len(features) == 1, (key, column, value, len(features))
        return features[0]

    def session(self):
        from imis.forms.setup import session_for

        return session_for(self.layers["buildings"])

    def snapshot(self):
        """Row counts and the newest update per table: equal snapshots mean nothing was written."""
        out = {}
        for table in ("building_info.buildings", "building_info.owners", "building_info.build_contains",
                      "fsm.containments", "fsm.build_toilets", "public.revisions"):
            out[table] = self.db.query(
                f"SELECT count(*), max(updated_at), count(deleted_at) FROM {table}"  # noqa: S608 - fixed names
                if table != "public.revisions" else f"SELECT count(*), max(id), 0 FROM {table}")[0]
        return out

    def revisions_since(self, last_id):
        return self.db.query(
            "SELECT revisionable_type, revisionable_id, user_id, key, old_value, new_value FROM public.revisions "
            "WHERE id > %s ORDER BY id", (last_id,))

    def last_revision_id(self):
        return self.db.query("SELECT coalesce(max(id), 0) FROM public.revisions")[0][0]

    def imis_now(self):
        return self.db.query("SELECT date_trunc('second', now() AT TIME ZONE %s)", (self.timezone,))[0][0]

    @property
    def timezone(self):
        from imis.imis_plugin import settings

        return settings.timezone()


def add_user(db, name="QGIS Test Editor"):
    n = next(_COUNTER)
    conn = db.connect()
    try:
        with conn.cursor() as cur:
            cur.execute(
                "INSERT INTO auth.users (name, email, password, user_type, created_at, updated_at) "
                "VALUES (%s, %s, 'x', 'Municipality', now(), now()) RETURNING id",
                (name, f"editor{n}@example.org"))
            user_id = cur.fetchone()[0]
        conn.commit()
    finally:
        conn.close()
    return user_id


@pytest.fixture
def edit_db(pg_server, sample_db):
    """Like scratch_db (a writable copy of the sample town), under a name used once: QGIS pools its
    PostgreSQL connections by name, and a pooled connection to a dropped namesake would be stale."""
    from psycopg2 import sql

    from tests.conftest import SampleDb

    name = f"imis_edit_{next(_COUNTER)}"
    dsn = pg_server.create_db(name, template="imis_template")
    yield SampleDb(pg_server, name, dsn, pg_server.qgis_uri(name), sample_db.manifest)
    import psycopg2

    conn = psycopg2.connect(pg_server.dsn())
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    conn.close()


@pytest.fixture
def edit_town(qgis_app, qgis_iface, imis_package, edit_db, clean_project):
    """A writable copy of the sample town loaded in QGIS through a saved connection, with an IMIS user
    chosen in the settings."""
    from qgis.gui import QgsGui

    scratch_db = edit_db
    from imis.imis_plugin import settings
    from imis.imis_plugin.layers import load_imis_layers
    from tests.conftest import save_qgis_connection

    QgsGui.editorWidgetRegistry().initEditors()
    user_id = add_user(scratch_db)
    settings.set_imis_user_id(user_id)
    name = save_qgis_connection(f"IMIS scratch {next(_COUNTER)}", scratch_db.uri)
    layers, problems = load_imis_layers(connection_name=name, project=clean_project)
    assert problems == [], problems
    town = EditTown(scratch_db, layers, user_id, clean_project)
    yield town
    close_forms()
    for layer in layers.values():
        if layer.isEditable():
            layer.rollBack()
    settings.set_imis_user_id(None)
    from imis.forms.setup import unload

    unload()


# --- forms --------------------------------------------------------------------------------------------

def wrappers(form):
    """{field name: [editor widget wrappers]} of a QgsAttributeForm (a field may appear twice)."""
    from qgis.gui import QgsEditorWidgetWrapper, QgsWidgetWrapper
    from qgis.PyQt.QtWidgets import QWidget

    out = {}
    for widget in form.findChildren(QWidget):
        wrapper = QgsWidgetWrapper.fromWidget(widget)
        if isinstance(wrapper, QgsEditorWidgetWrapper) and wrapper.layer().id() == form.layer().id():
            out.setdefault(wrapper.field().name(), []).append(wrapper)
    return out


class Form:
    """A real QgsAttributeDialog, shown headless, driven through its widgets."""

    def __init__(self, layer, feature, adding=False, context=None):
        from qgis.core import QgsApplication
        from qgis.gui import QgsAttributeDialog, QgsAttributeEditorContext

        self.layer = layer
        if context is None:
            context = QgsAttributeEditorContext()
        self.dialog = QgsAttributeDialog(layer, feature, False, None, True, context=context)
        if adding:
            self.dialog.setMode(QgsAttributeEditorContext.AddFeatureMode)
        self.dialog.show()
        QgsApplication.processEvents()
        self.form = self.dialog.attributeForm()
        self.widgets = wrappers(self.form)
        OPEN_FORMS.append(self)

    def wrapper(self, name, index=0):
        return self.widgets[name][index]

    def value(self, name):
        return self.wrapper(name).value()

    def set(self, name, value, index=0):
        """Fill the field's widget as an editor would (typing, picking from the list)."""
        from qgis.core import QgsApplication
        from qgis.gui import QgsRelationReferenceWidget
        from qgis.PyQt.QtCore import QDate
        from qgis.PyQt.QtWidgets import QComboBox, QDateTimeEdit, QLineEdit

        widget = self.wrapper(name, index).widget()
        if isinstance(widget, QgsRelationReferenceWidget):
            widget.setForeignKeys([value])
        elif isinstance(widget, QComboBox):
            position = widget.findText(value) if isinstance(value, str) and widget.findText(value) >= 0 \
                else widget.findData(value)
            if position < 0 and isinstance(value, bool):
                position = widget.findText("Yes" if value else "No")
            assert position >= 0, f"{name}: '{value}' is not offered ({self.items(name)})"
            widget.setCurrentIndex(position)
        elif isinstance(widget, QDateTimeEdit):
            widget.setDate(QDate(value.year, value.month, value.day))
        elif isinstance(widget, QLineEdit):
            widget.setText("" if value is None else str(value))
        else:
            raise AssertionError(f"{name}: no way to fill a {type(widget).__name__}")
        QgsApplication.processEvents()

    def items(self, name, index=0):
        widget = self.wrapper(name, index).widget()
        return [widget.itemText(i) for i in range(widget.count())]

    def shown(self, name, index=0):
        """Whether the field's widget is visible in its tab (no hidden group around it)."""
        widget = self.wrapper(name, index).widget()
        while widget is not None and widget is not self.form:
            parent = widget.parentWidget()
            on_other_tab = parent is not None and parent.objectName() == "qt_tabwidget_stackedwidget"
            if widget.isHidden() and not on_other_tab:
                return False
            widget = parent
        return True

    def editable(self, name, index=0):
        from qgis.PyQt.QtWidgets import QLineEdit

        widget = self.wrapper(name, index).widget()
        return widget.isEnabled() and not (isinstance(widget, QLineEdit) and widget.isReadOnly())

    def valid(self, name, index=0):
        from qgis.gui import QgsEditorWidgetWrapper

        return self.wrapper(name, index).constraintResult() != QgsEditorWidgetWrapper.ConstraintResultFailHard

    def ok_button(self):
        from qgis.PyQt.QtWidgets import QDialogButtonBox

        return self.dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.Ok)

    def can_save(self):
        return self.ok_button().isEnabled()

    def save(self):
        """Click OK; returns False if the form refused (button disabled)."""
        from qgis.core import QgsApplication

        button = self.ok_button()
        if not button.isEnabled():
            return False
        button.click()
        QgsApplication.processEvents()
        return True

    def tab(self, title):
        from qgis.core import QgsApplication
        from qgis.PyQt.QtWidgets import QTabWidget

        tabs = self.form.findChild(QTabWidget)
        titles = [tabs.tabText(i) for i in range(tabs.count())]
        tabs.setCurrentIndex(titles.index(title))
        QgsApplication.processEvents()
        return titles

    def relation_editor(self):
        from qgis.gui import QgsRelationEditorWidget

        return self.form.findChildren(QgsRelationEditorWidget)[0]

    def close(self):
        from qgis.PyQt import sip

        if not sip.isdeleted(self.dialog):
            self.dialog.reject()
            sip.delete(self.dialog)


def close_forms():
    from qgis.core import QgsApplication

    while OPEN_FORMS:
        OPEN_FORMS.pop().close()
    QgsApplication.processEvents()


def relation_children(editor):
    """Features listed by a relation editor widget."""
    from qgis.PyQt import sip
    from qgis.gui import QgsDualView
    from qgis.PyQt.QtWidgets import QWidget

    views = [sip.cast(w, QgsDualView) for w in editor.findChildren(QWidget) if w.metaObject().className() == "QgsDualView"]
    model = views[0].masterModel()
    return [model.feature(model.index(row, 0)) for row in range(model.rowCount())]


def layer_tools(fill):
    """QgsVectorLayerTools as QGIS's app provides it to relation editors: "add" opens the layer's form,
    which `fill(form)` fills and saves."""
    from qgis.core import QgsVectorLayerTools, QgsVectorLayerUtils

    class Tools(QgsVectorLayerTools):
        def addFeature(self, layer, defaultValues, defaultGeometry, feature=None, parentWidget=None,  # noqa: N802
                       showModal=True, hideParent=False):
            new = QgsVectorLayerUtils.createFeature(layer, defaultGeometry, defaultValues or {})
            form = Form(layer, new, adding=True)
            saved = fill(form)
            return bool(saved), new

        def startEditing(self, layer):  # noqa: N802
            return layer.startEditing()

        def stopEditing(self, layer, allowCancel=True):  # noqa: N802
            return layer.commitChanges()

        def saveEdits(self, layer):  # noqa: N802
            return layer.commitChanges(False)

        def copyMoveFeatures(self, *args):  # noqa: N802
            return False

    return Tools()


def polygon_wkt_near(town, bin_, dx=0.0003):
    """A small square footprint east of building `bin_` (free land in the sample town)."""
    x, y = town.one("SELECT ST_X(ST_Centroid(geom)), ST_Y(ST_Centroid(geom)) FROM building_info.buildings WHERE bin = %s",
                    (bin_,))
    x += dx
    s = 0.00005
    return f"POLYGON(({x} {y}, {x + s} {y}, {x + s} {y + s}, {x} {y + s}, {x} {y}))"
