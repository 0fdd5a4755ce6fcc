"""Applies the IMIS forms to freshly loaded IMIS layers (called by "Load IMIS layers").

PostGIS layers also get an editing session (imis_plugin/editing/session.py) that saves through
IMIS's rules; layers from a GeoPackage get the forms for reading only.
"""
from qgis.core import QgsMessageLog, Qgis

from . import behaviour, building, containment, expressions

NEEDED = ("buildings", "owners", "containments", "build_contains", "build_toilets", "roads", "sewers", "drains",
          "water_supply", "wards", "structure_types", "functional_uses", "use_categorys", "sanitation_systems",
          "water_sources", "low_income_communities", "toilets", "containment_types", "main_buildings")
_SESSIONS = {}  # buildings layer id -> EditSession


def apply_forms(layers, project):
    """Configure the building and containment forms; returns problem messages (empty when all went well)."""
    missing = [key for key in NEEDED if key not in layers]
    if missing:
        return [f"IMIS forms not set up: layers missing ({', '.join(missing)})."]
    expressions.register()
    behaviour.register()
    building.configure(project, layers)
    containment.configure(project, layers)
    b = layers["buildings"]
    if b.providerType() != "postgres":
        for key in ("buildings", "containments", "owners", "build_contains", "build_toilets"):
            layers[key].setReadOnly(True)  # IMIS rules are enforced on the IMIS database only
        return []
    return _start_session(layers)


def _start_session(layers):
    from ..imis_plugin import db, settings
    from ..imis_plugin.editing.session import EditSession
    from ..imis_plugin.editing.writer import load_facts
    from ..imis_plugin.schema_check import check_database

    b = layers["buildings"]
    report, problems = None, []
    try:
        conn = db.connect_uri(b.dataProvider().uri())
    except db.ImisDbError as error:
        return [f"IMIS forms: {error}"]
    try:
        report = check_database(conn)
        with conn.cursor() as cur:
            facts = load_facts(cur, settings.timezone())
        conn.rollback()
    except Exception as error:  # noqa: BLE001 - a database without some IMIS table: forms stay usable
        problems.append(f"IMIS forms: could not read the lookup tables ({error}).")
        facts = None
    finally:
        conn.close()
    for key in ("buildings", "containments"):
        if facts is not None:
            expressions.set_facts(layers[key].id(), facts)
    stop_session(b.id())
    session = EditSession(layers, report)
    _SESSIONS[b.id()] = session
    b.willBeDeleted.connect(lambda layer_id=b.id(): _stop_quietly(layer_id))
    if not session.update_editability():
        QgsMessageLog.logMessage("IMIS layers are read-only until you choose your IMIS user "
                                 "(IMIS menu > IMIS database settings).", "IMIS", Qgis.Info)
    if report is not None and report.view_problems:
        QgsMessageLog.logMessage(" ".join(report.view_problems), "IMIS", Qgis.Warning)
    return problems


def session_for(layer):
    """The editing session of an IMIS layer (any of the five editable ones), or None."""
    for session in _SESSIONS.values():
        if layer in session.layers.values():
            return session
    return None


def stop_session(buildings_layer_id):
    session = _SESSIONS.pop(buildings_layer_id, None)
    if session is not None:
        session.disconnect_all()


def _stop_quietly(layer_id):
    try:
        stop_session(layer_id)
    except Exception as error:  # noqa: BLE001 - a slot must not raise (PyQt would abort)
        QgsMessageLog.logMessage(f"IMIS: closing the editing session: {error}", "IMIS", Qgis.Warning)


def refresh_editability():
    """After the settings changed: editing allowed exactly when an IMIS user is chosen."""
    for session in _SESSIONS.values():
        session.update_editability()


def unload():
    for layer_id in list(_SESSIONS):
        stop_session(layer_id)
    expressions.unregister()
