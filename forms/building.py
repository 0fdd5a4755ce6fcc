"""The building form: IMIS's sections as tabs, IMIS's labels, lookup drop-downs, the owner and the
community toilet through editable joins, the containments through the build_contains relation.

Built in code (like QgisModelBaker does) because it depends on the project's layer ids; the
rules behind constraints and visibility are forms.rules, reached through forms.expressions.
"""
from qgis.core import (
    QgsAttributeEditorContainer,
    QgsAttributeEditorField,
    QgsAttributeEditorRelation,
    QgsDefaultValue,
    QgsEditFormConfig,
    QgsEditorWidgetSetup,
    QgsExpression,
    QgsFieldConstraints,
    QgsOptionalExpression,
    QgsRelation,
    QgsRelationContext,
    QgsVectorLayerJoinInfo,
)

from . import behaviour, widgets
from .expressions import describe, shown_expression, valid_expression
from .fields import (
    BUILDING,
    BUILDING_FIELDS,
    BUILDING_TABS,
    CONTAINMENTS,
    DEFECATION_PLACE_LABEL,
    LIC,
    OWNER,
    OWNER_COLUMNS,
    OWNER_GENDERS,
    SANITATION,
    SWM,
    TOILET_LINK_FIELD,
    WATER,
)
from .rules import DEPENDS_ON, NO_TOILET, PROVISIONAL_PREFIX, WITH_TOILET

TABLE = "buildings"
TOILET_PREFIX = "community_"

# Relation ids are fixed so that re-loading the layers replaces rather than duplicates them.
REL_LINKS = "imis_buildings_build_contains"
REL_LINK_CONTAINMENT = "imis_build_contains_containments"
REL_ROAD = "imis_buildings_road"
REL_SEWER = "imis_buildings_sewer"
REL_DRAIN = "imis_buildings_drain"
REL_PIPE = "imis_buildings_pipe"
REL_MAIN = "imis_buildings_main_building"

# Provisional key of an unsaved feature; the commit replaces it with the next BIN / id.
PROVISIONAL_KEY = f"'{PROVISIONAL_PREFIX}' || substr(replace(uuid(), '-', ''), 2, 12)"


def relation(project, rel_id, name, referencing, referencing_field, referenced, referenced_field):
    manager = project.relationManager()
    if manager.relation(rel_id).isValid():
        manager.removeRelation(rel_id)
    # The relation resolves its layers in `project`, which need not be QgsProject.instance().
    rel = QgsRelation(QgsRelationContext(project))
    rel.setId(rel_id)
    rel.setName(name)
    rel.setReferencingLayer(referencing.id())
    rel.setReferencedLayer(referenced.id())
    rel.addFieldPair(referencing_field, referenced_field)
    if not rel.isValid():
        raise ValueError(
            f"IMIS form: relation {name} is not valid ({referencing.name()}.{referencing_field} -> "
            f"{referenced.name()}.{referenced_field})"
        )
    manager.addRelation(rel)
    return rel


def add_relations(project, layers):
    b = layers["buildings"]
    rels = {
        REL_LINKS: relation(project, REL_LINKS, "Containments of the building", layers["build_contains"], "bin",
                            b, "bin"),
        REL_LINK_CONTAINMENT: relation(project, REL_LINK_CONTAINMENT, "Containment of the link",
                                       layers["build_contains"], "containment_id", layers["containments"], "id"),
        REL_MAIN: relation(project, REL_MAIN, "Main building", b, "building_associated_to", layers["main_buildings"],
                           "bin"),
    }
    for rel_id, name, key, column in ((REL_ROAD, "Road", "roads", "road_code"),
                                      (REL_SEWER, "Sewer", "sewers", "sewer_code"),
                                      (REL_DRAIN, "Drain", "drains", "drain_code"),
                                      (REL_PIPE, "Water supply pipe", "water_supply", "watersupply_pipe_code")):
        rels[rel_id] = relation(project, rel_id, name, b, column, layers[key], "code")
    return rels


def add_joins(layers):
    """Owner fields and the community toilet appear as fields of the building, editable in its form."""
    b = layers["buildings"]
    for join_key, prefix, names in (("owners", "", OWNER_COLUMNS), ("build_toilets", TOILET_PREFIX, ("toilet_id",))):
        joined = layers[join_key]
        b.removeJoin(joined.id())
        info = QgsVectorLayerJoinInfo()
        info.setJoinLayer(joined)
        info.setJoinFieldName("bin")
        info.setTargetFieldName("bin")
        info.setJoinFieldNamesSubset(list(names))
        info.setPrefix(prefix)
        info.setEditable(True)
        info.setUpsertOnEdit(True)  # a building without an owner row gets one when the owner is typed
        # No memory cache: a cache would load every owner row and reload them all on each edit.
        info.setUsingMemoryCache(False)
        b.addJoin(info)


def _field_widgets(layers):
    lk = layers
    return {
        "owner_name": widgets.text(),
        "owner_gender": widgets.value_map([(g, g) for g in OWNER_GENDERS]),
        "owner_contact": widgets.text(),
        "building_associated_to": widgets.relation_reference(REL_MAIN),
        "ward": widgets.value_relation(lk["wards"], "ward", "ward"),
        "road_code": widgets.relation_reference(REL_ROAD),
        "structure_type_id": widgets.value_relation(lk["structure_types"], "id", "type"),
        "surveyed_date": widgets.date(),
        "construction_year": widgets.date(),
        "functional_use_id": widgets.value_relation(lk["functional_uses"], "id", "name"),
        "use_category_id": widgets.value_relation(
            lk["use_categorys"], "id", "name", "\"functional_use_id\" = current_value('functional_use_id')"),
        "low_income_hh": widgets.yes_no(),
        "lic_id": widgets.value_relation(lk["low_income_communities"], "id", "community_name"),
        "water_source_id": widgets.value_relation(lk["water_sources"], "id", "source"),
        "watersupply_pipe_code": widgets.relation_reference(REL_PIPE),
        "well_presence_status": widgets.yes_no(),
        "toilet_status": widgets.yes_no(),
        # One column, two IMIS fields: the list follows Presence of Toilet (ids IMIS hard-codes).
        "sanitation_system_id": widgets.value_relation(
            lk["sanitation_systems"], "id", "sanitation_system",
            "CASE WHEN current_value('toilet_status') IS NULL THEN true "
            # The Yes/No widget hands over the text 'true'/'false'.
            "WHEN lower(to_string(current_value('toilet_status'))) IN ('true', 't', '1') "
            f"THEN \"id\" IN ({', '.join(map(str, sorted(WITH_TOILET)))}) "
            f"ELSE \"id\" IN ({', '.join(map(str, sorted(NO_TOILET)))}) END",
            order_by_value=False),
        TOILET_LINK_FIELD: widgets.value_relation(
            lk["toilets"], "id", "name", "\"type\" = 'Community Toilet' AND \"status\""),
        "desludging_vehicle_accessible": widgets.yes_no(),
        "sewer_code": widgets.relation_reference(REL_SEWER),
        "drain_code": widgets.relation_reference(REL_DRAIN),
    }


def configure(project, layers):
    """Apply the IMIS building form to layers['buildings'] (needs the lookup layers in `layers`)."""
    b = layers["buildings"]
    add_joins(layers)
    rels = add_relations(project, layers)
    layers["roads"].setDisplayExpression("\"code\" || ' - ' || coalesce(\"name\", '')")
    for key in ("sewers", "drains", "water_supply"):
        layers[key].setDisplayExpression('"code"')
    for key in ("buildings", "main_buildings"):
        layers[key].setDisplayExpression("\"bin\" || coalesce(' (' || \"house_number\" || ')', '')")
    fields = b.fields()
    special = _field_widgets(layers)
    for spec in BUILDING_FIELDS:
        idx = fields.indexOf(spec.column)
        if idx < 0:
            continue
        b.setFieldAlias(idx, spec.label)
        if spec.kind == "hidden":
            b.setEditorWidgetSetup(idx, widgets.hidden() if spec.column != behaviour.HOST_FIELD else
                                   QgsEditorWidgetSetup(behaviour.WIDGET_TYPE, {}))
            continue
        b.setEditorWidgetSetup(idx, special.get(spec.column) or
                               (widgets.date() if spec.kind == "date" else
                                widgets.yes_no() if spec.kind == "bool" else widgets.text()))
        if spec.kind != "readonly":
            b.setConstraintExpression(idx, valid_expression(TABLE, spec.column, DEPENDS_ON.get((TABLE, spec.column), ())),
                                      describe(TABLE, spec.column))
            b.setFieldConstraint(idx, QgsFieldConstraints.ConstraintExpression,
                                 QgsFieldConstraints.ConstraintStrengthHard)
    b.setDefaultValueDefinition(fields.indexOf("bin"), QgsDefaultValue(PROVISIONAL_KEY))
    b.setEditFormConfig(_form_config(b, rels))


def _field(layer, parent, column, show_label=True):
    element = QgsAttributeEditorField(column, layer.fields().indexOf(column), parent)
    element.setShowLabel(show_label)
    parent.addChildElement(element)
    return element


def _group(parent, title, visible_when=None, show_title=True):
    group = QgsAttributeEditorContainer(title, parent)
    group.setIsGroupBox(True)
    group.setShowLabel(show_title)
    group.setColumnCount(1)
    if visible_when:
        group.setVisibilityExpression(QgsOptionalExpression(QgsExpression(shown_expression(TABLE, visible_when))))
    parent.addChildElement(group)
    return group


def _form_config(b, rels):
    config = b.editFormConfig()
    config.setLayout(QgsEditFormConfig.TabLayout)
    config.clearTabs()
    root = config.invisibleRootContainer()
    tabs = {}
    for title in BUILDING_TABS:
        tab = QgsAttributeEditorContainer(title, root)
        tab.setIsGroupBox(False)
        tab.setColumnCount(1)
        tabs[title] = tab
    for column in OWNER_COLUMNS:
        _field(b, tabs[OWNER], column)
    _field(b, tabs[OWNER], behaviour.HOST_FIELD, show_label=False)  # invisible: the form's live behaviour
    t = tabs[BUILDING]
    for column in ("bin", "building_associated_to", "ward", "road_code", "house_number", "house_locality", "tax_code",
                   "structure_type_id", "surveyed_date", "construction_year", "floor_count", "functional_use_id"):
        _field(b, t, column)
    _field(b, _group(t, "Use Category of Building", "use_category_id", show_title=False), "use_category_id")
    _field(b, _group(t, "Office or Business Name", "office_business_name", show_title=False), "office_business_name")
    for column in ("household_served", "population_served", "male_population", "female_population",
                   "other_population", "diff_abled_male_pop", "diff_abled_female_pop", "diff_abled_others_pop",
                   "estimated_area"):
        _field(b, t, column)
    _field(b, tabs[LIC], "low_income_hh")
    _field(b, tabs[LIC], "lic_id")
    w = tabs[WATER]
    _field(b, w, "water_source_id")
    supply = _group(w, "Municipal water supply", "watersupply_pipe_code")
    _field(b, supply, "water_customer_id")
    _field(b, supply, "watersupply_pipe_code")
    _field(b, w, "well_presence_status")
    _field(b, _group(w, "Well", "distance_from_well", show_title=False), "distance_from_well")
    _field(b, tabs[SWM], "swm_customer_id")
    s = tabs[SANITATION]
    _field(b, s, "toilet_status")
    # sanitation_system_id is IMIS's "Toilet Connection" with a toilet and its "Defecation Place"
    # without one: the same column in two groups, each shown in its case.
    with_toilet = _group(s, "Toilet Connection", "toilet_connection")
    _field(b, with_toilet, "sanitation_system_id", show_label=False)
    for column in ("toilet_count", "household_with_private_toilet", "population_with_private_toilet"):
        _field(b, with_toilet, column)
    _field(b, _group(with_toilet, "Desludging", "desludging_vehicle_accessible", show_title=False),
           "desludging_vehicle_accessible")
    _field(b, _group(with_toilet, "Sewer", "sewer_code", show_title=False), "sewer_code")
    _field(b, _group(with_toilet, "Drain", "drain_code", show_title=False), "drain_code")
    without = _group(s, DEFECATION_PLACE_LABEL, "defecation_place")
    _field(b, without, "sanitation_system_id", show_label=False)
    _field(b, _group(without, "Community toilet", TOILET_LINK_FIELD, show_title=False), TOILET_LINK_FIELD)
    links = QgsAttributeEditorRelation(rels[REL_LINKS], tabs[CONTAINMENTS])
    links.setNmRelationId(REL_LINK_CONTAINMENT)
    links.setLabel("Containments of this building")
    links.setRelationWidgetTypeId("relation_editor")
    links.setRelationEditorConfiguration({
        # No "delete child": IMIS refuses to delete a containment that still serves a building.
        # Unlink it here; the save then says when it serves no building any more, and it can be
        # deleted from the Containments layer (in the same save, too).
        "buttons": "Link|Unlink|AddChildFeature|ZoomToChildFeature",
        "show_first_feature": True,
    })
    tabs[CONTAINMENTS].addChildElement(links)
    for title in BUILDING_TABS:
        config.addTab(tabs[title])
    fields = b.fields()
    for spec in BUILDING_FIELDS:
        idx = fields.indexOf(spec.column)
        if idx >= 0:
            config.setReadOnly(idx, spec.kind in ("readonly", "hidden"))
    return config

