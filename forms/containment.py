"""The containment form (EDITING.md §6.1): type limited to the building's system when opened from a
building, dimensions shown by type, volume computed when left empty, emptying fields read-only."""
from qgis.core import (
    QgsAttributeEditorContainer,
    QgsAttributeEditorField,
    QgsDefaultValue,
    QgsEditFormConfig,
    QgsEditorWidgetSetup,
    QgsExpression,
    QgsFieldConstraints,
    QgsOptionalExpression,
)

from . import behaviour, widgets
from .building import PROVISIONAL_KEY
from .expressions import describe, shown_expression, valid_expression
from .fields import CONTAINMENT_FIELDS, CONTAINMENT_LOCATIONS
from .rules import DEPENDS_ON, ONSITE

TABLE = "containments"


def configure(project, layers):
    c = layers["containments"]
    fields = c.fields()
    # Opened from a building, only the types of the building's system; alone, septic tanks and pits.
    type_filter = (f"\"sanitation_system_id\" IN ({', '.join(map(str, sorted(ONSITE)))}) AND "
                   "(current_parent_value('sanitation_system_id') IS NULL OR "
                   "\"sanitation_system_id\" = current_parent_value('sanitation_system_id'))")
    special = {
        "type_id": widgets.value_relation(layers["containment_types"], "id", "type", type_filter, order_by_value=False),
        "location": widgets.value_map([(v, v) for v in CONTAINMENT_LOCATIONS]),
    }
    for spec in CONTAINMENT_FIELDS:
        idx = fields.indexOf(spec.column)
        if idx < 0:
            continue
        c.setFieldAlias(idx, spec.label)
        if spec.kind == "hidden":
            c.setEditorWidgetSetup(idx, widgets.hidden() if spec.column != behaviour.HOST_FIELD else
                                   QgsEditorWidgetSetup(behaviour.WIDGET_TYPE, {}))
            continue
        c.setEditorWidgetSetup(idx, special.get(spec.column) or
                               (widgets.date() if spec.kind == "date" or spec.column.endswith("_date") else
                                widgets.yes_no() if spec.kind == "bool" or spec.column == "emptied_status" else
                                widgets.text()))
        if spec.kind != "readonly":
            c.setConstraintExpression(idx, valid_expression(TABLE, spec.column, DEPENDS_ON.get((TABLE, spec.column), ())),
                                      describe(TABLE, spec.column))
            c.setFieldConstraint(idx, QgsFieldConstraints.ConstraintExpression,
                                 QgsFieldConstraints.ConstraintStrengthHard)
    c.setDefaultValueDefinition(fields.indexOf("id"), QgsDefaultValue(PROVISIONAL_KEY))
    c.setDisplayExpression('"id"')
    c.setEditFormConfig(_form_config(c))


def _add(layer, parent, column):
    parent.addChildElement(QgsAttributeEditorField(column, layer.fields().indexOf(column), parent))


def _group(parent, title, visible_when=None):
    group = QgsAttributeEditorContainer(title, parent)
    group.setIsGroupBox(True)
    group.setColumnCount(1)
    if visible_when:
        group.setVisibilityExpression(QgsOptionalExpression(QgsExpression(shown_expression(TABLE, visible_when))))
    parent.addChildElement(group)
    return group


def _form_config(c):
    config = c.editFormConfig()
    config.setLayout(QgsEditFormConfig.TabLayout)
    config.clearTabs()
    root = config.invisibleRootContainer()
    main = QgsAttributeEditorContainer("Containment Information", root)
    main.setIsGroupBox(False)
    main.setColumnCount(1)
    for column in ("id", "type_id", "location"):
        _add(c, main, column)
    hosted = QgsAttributeEditorField(behaviour.HOST_FIELD, c.fields().indexOf(behaviour.HOST_FIELD), main)
    hosted.setShowLabel(False)  # invisible: the form's live behaviour
    main.addChildElement(hosted)
    dims = _group(main, "Dimensions", "depth")
    pit = _group(dims, "Cylindrical pit", "pit_diameter")
    _add(c, pit, "pit_diameter")
    tank = _group(dims, "Tank or rectangular pit", "tank_length")
    _add(c, tank, "tank_length")
    _add(c, tank, "tank_width")
    _add(c, dims, "depth")
    for column in ("size", "construction_date"):
        _add(c, main, column)
    _add(c, _group(main, "Septic tank", "septic_criteria"), "septic_criteria")
    emptying = QgsAttributeEditorContainer("Emptying (maintained by IMIS)", root)
    emptying.setIsGroupBox(False)
    emptying.setColumnCount(1)
    for column in ("emptied_status", "last_emptied_date", "next_emptying_date", "no_of_times_emptied"):
        _add(c, emptying, column)
    for tab in (main, emptying):
        config.addTab(tab)
    fields = c.fields()
    for spec in CONTAINMENT_FIELDS:
        idx = fields.indexOf(spec.column)
        if idx >= 0:
            config.setReadOnly(idx, spec.kind in ("readonly", "hidden"))
    return config
