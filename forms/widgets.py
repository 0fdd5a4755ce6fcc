"""Editor-widget setups shared by the IMIS forms (QgsEditorWidgetSetup configurations of QGIS 3.22)."""
from qgis.core import QgsEditorWidgetSetup

NULL_KEY = "{2839923C-8B7D-419E-B84B-CA2FE9B80EC7}"  # how a ValueMap lists "no value"


def value_relation(layer, key, value, filter_expression="", order_by_value=True, allow_null=True):
    """Drop-down of a (small) lookup layer's rows: stores `key`, shows `value`."""
    return QgsEditorWidgetSetup("ValueRelation", {
        "Layer": layer.id(), "LayerName": layer.name(), "LayerSource": layer.source(),
        "LayerProviderName": layer.providerType(),
        "Key": key, "Value": value, "FilterExpression": filter_expression,
        "AllowNull": allow_null, "OrderByValue": order_by_value, "AllowMulti": False,
        "UseCompleter": False, "NofColumns": 1,
    })


def relation_reference(relation_id, filter_expression="", allow_null=True):
    """Searchable drop-down for big layers (roads, sewers, drains, pipes, buildings): it fetches
    only the rows matching what the editor types, so the form opens fast on a 150 000-building town."""
    return QgsEditorWidgetSetup("RelationReference", {
        "Relation": relation_id, "AllowNULL": allow_null, "OrderByValue": True, "ShowForm": False,
        "ShowOpenFormButton": False, "MapIdentification": False, "ReadOnly": False,
        "AllowAddFeatures": False, "FilterExpression": filter_expression,
        "FetchLimitActive": True, "FetchLimitNumber": 100,
    })


def value_map(pairs, allow_null=True):
    entries = [{label: value} for label, value in pairs]
    if allow_null:
        entries.insert(0, {"": NULL_KEY})
    return QgsEditorWidgetSetup("ValueMap", {"map": entries})


def yes_no(allow_null=True):
    # The ValueMap compares the field value's text: a boolean column reads "true"/"false".
    return value_map((("Yes", "true"), ("No", "false")), allow_null)


def date():
    return QgsEditorWidgetSetup("DateTime", {
        "field_format": "yyyy-MM-dd", "display_format": "yyyy-MM-dd", "calendar_popup": True, "allow_null": True,
    })


def text(multiline=False):
    return QgsEditorWidgetSetup("TextEdit", {"IsMultiline": multiline, "UseHtml": False})


def hidden():
    return QgsEditorWidgetSetup("Hidden", {})
