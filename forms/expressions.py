"""Expression functions through which the forms' constraints and visibility call forms.rules.

A field's constraint is `imis_valid('buildings', 'sewer_code', "sanitation_system_id", …)`: the
function checks the form's current feature with the same rules the commit applies. The extra
field arguments only tell QGIS which fields the constraint depends on, so the form re-checks it
when one of them changes. Container visibility is `imis_shown('buildings', 'toilet_count')`.
"""
import datetime

from qgis.core import QgsExpression, QgsExpressionFunction, QgsFeatureRequest

from . import rules
from .fields import BUILDING_SPECS, CONTAINMENT_SPECS
from .values import LazyRecord

GROUP = "IMIS"
_FACTS = {}  # layer id -> rules.Facts of the layer's database


def set_facts(layer_id, facts):
    _FACTS[layer_id] = facts


def facts_for(layer_id):
    facts = _FACTS.get(layer_id)
    if facts is None:  # no database facts (e.g. a GeoPackage): rules that need them stay quiet
        facts = rules.Facts(today=datetime.date.today(), ids_ok=False)
    return facts


def creating(feature, table):
    key = feature.attribute("bin" if table == "buildings" else "id") if feature.fields().count() else None
    return feature.id() < 0 or rules.is_provisional(key)


def _layer_id(context):
    return context.variable("layer_id") if context is not None else None


def _valid(values, feature, context):
    if feature is None or not feature.fields().count():
        return True
    table, column = values[0], values[1]
    facts = facts_for(_layer_id(context))
    rec = LazyRecord(feature)
    if table == "buildings":
        problems = rules.building_problems(rec, facts, creating(feature, table), columns=[column])
    else:
        problems = rules.containment_problems(rec, facts, creating(feature, table), columns=[column])
    return not problems


def _shown(values, feature, context):
    if feature is None or not feature.fields().count():
        return True
    table, column = values[0], values[1]
    facts = facts_for(_layer_id(context))
    rec = LazyRecord(feature)
    if table == "buildings":
        return rules.building_field_shown(column, rec, facts)
    return rules.containment_field_shown(column, rec, facts)


class _RuleFunction(QgsExpressionFunction):
    """A variadic expression function that sees the expression context (3.22's @qgsfunction cannot)."""

    def __init__(self, name, implementation, help_text):
        super().__init__(name, -1, GROUP, help_text)
        self.implementation = implementation

    def func(self, values, context, parent, node):
        try:
            return self.implementation(values, context.feature() if context is not None else None, context)
        except Exception as error:  # noqa: BLE001 - an expression reports errors, it does not raise
            parent.setEvalErrorString(f"{self.name()}: {error}")
            return None

    def usesGeometry(self, node):  # noqa: N802
        return False

    def referencedColumns(self, node):  # noqa: N802
        return [QgsFeatureRequest.ALL_ATTRIBUTES]

    def handlesNull(self):  # noqa: N802
        return True


FUNCTIONS = (
    _RuleFunction("imis_valid", _valid, "<h3>imis_valid</h3>True when IMIS's rules accept the field of the "
                  "feature being edited.<br>imis_valid('buildings' or 'containments', field name, dependent fields…)"),
    _RuleFunction("imis_shown", _shown, "<h3>imis_shown</h3>True when the IMIS form shows the field for the "
                  "feature being edited.<br>imis_shown('buildings' or 'containments', field name)"),
)


def register():
    for function in FUNCTIONS:
        if QgsExpression.isFunctionName(function.name()):
            QgsExpression.unregisterFunction(function.name())
        QgsExpression.registerFunction(function)


def unregister():
    for function in FUNCTIONS:
        if QgsExpression.isFunctionName(function.name()):
            QgsExpression.unregisterFunction(function.name())


def quote(text):
    return QgsExpression.quotedString(text)


def valid_expression(table, column, depends_on=()):
    fields = "".join(", " + QgsExpression.quotedColumnRef(name) for name in (column, *depends_on))
    return f"imis_valid({quote(table)}, {quote(column)}{fields})"


def shown_expression(table, column):
    # The fields are listed so that QGIS re-evaluates the visibility when one of them changes.
    fields = "".join(", " + QgsExpression.quotedColumnRef(name) for name in rules.DEPENDS_ON.get((table, column), ()))
    return f"imis_shown({quote(table)}, {quote(column)}{fields})"


def describe(table, column):
    """Static text QGIS shows beside a field whose constraint fails."""
    spec = (BUILDING_SPECS if table == "buildings" else CONTAINMENT_SPECS)[column]
    when = rules.RULE_NOTES.get((table, column))
    parts = []
    if spec.required:
        parts.append("Required.")
    elif spec.required_on_create:
        parts.append("Required for a new building.")
    if when:
        parts.append(when)
    if spec.kind == "int" or spec.whole:
        parts.append("A whole number, 0 or more.")
    elif spec.kind == "number":
        parts.append("A number, 0 or more.")
    elif spec.kind == "date":
        parts.append("Not after today.")
    elif spec.kind == "choice":
        parts.append("One of " + " / ".join(spec.choices) + ".")
    if spec.max_length:
        parts.append(f"At most {spec.max_length} characters.")
    return " ".join(parts) or "Checked by IMIS's rules."
