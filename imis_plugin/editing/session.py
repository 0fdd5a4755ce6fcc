"""Every commit of the IMIS layers goes through the writer: one transaction, IMIS's rules, no loss.

QGIS's own commit would write each layer's buffer with the layer's provider, layer by layer and
without IMIS's rules. The session takes the commit over: when QGIS is about to commit any IMIS
layer (Save Layer Edits, Save All, stop editing, the attribute table, the relation editor), it
collects the edit buffers of all five IMIS tables into one ChangeSet and has the writer save it
in one transaction. Then it empties the committing layer's buffer, so QGIS's commit that follows
writes nothing. If the save failed, QGIS's (empty) commit is followed at once by putting the
user's edits back into the buffer: the database holds nothing of the save and the edits are
still there to fix and save again.

The owner and community-toilet rows and the links are edited in hidden layers (through the
building form's joins and relation editor); a change there marks its building as modified, so
the building layer's Save button and "save changes?" prompt cover them.
"""
import threading
import time

from qgis.core import Qgis, QgsDataSourceUri, QgsFeatureRequest, QgsGeometry, QgsMessageLog, QgsVectorLayer
from qgis.PyQt.QtCore import QEventLoop, QObject, QTimer, pyqtSignal

from ...forms.fields import BUILDING_EDITABLE, CONTAINMENT_EDITABLE, OWNER_COLUMNS
from ...forms.rules import is_provisional
from ...forms.values import to_python
from .. import db, settings
from . import writer
from .changes import ChangeSet, FeatureProblem, RowEdit, SaveFailed

EDITABLE = ("buildings", "owners", "containments", "build_contains", "build_toilets")
HIDDEN = ("owners", "build_contains", "build_toilets")  # edited only through the building form
KEYS = {"buildings": "bin", "containments": "id", "owners": "id", "build_contains": "id", "build_toilets": "id"}
USER_COLUMNS = {
    "buildings": BUILDING_EDITABLE,
    "containments": CONTAINMENT_EDITABLE,
    "owners": OWNER_COLUMNS + ("bin",),
    "build_contains": ("bin", "containment_id"),
    "build_toilets": ("bin", "toilet_id"),
}
LOG_TAG = "IMIS"
THREAD_WHEN_EDITS = 20  # bigger saves (and containment saves under IMIS's trigger) run with a progress dialog
REPEAT_WINDOW_SECONDS = 2.0  # "Save All" commits each IMIS layer: one failed save is not re-run for each


def _notify(level, text, details=""):
    QgsMessageLog.logMessage(text + ("\n" + details if details else ""), LOG_TAG, level)
    try:
        from qgis.utils import iface
    except ImportError:  # pragma: no cover
        iface = None
    if iface is not None and iface.messageBar() is not None:
        duration = 0 if level == Qgis.Critical else 10
        iface.messageBar().pushMessage("IMIS", text, details or "", level, duration)


class EditSession(QObject):
    """Owns the commits of one IMIS database's editable layers in a project."""

    saved = pyqtSignal(object)  # SaveResult
    failed = pyqtSignal(object)  # SaveFailed

    def __init__(self, layers, report=None, parent=None):
        super().__init__(parent)
        self.layers = {key: layers[key] for key in EDITABLE if key in layers}
        self.uri = QgsDataSourceUri(self.layers["buildings"].source())
        self.report = report  # schema_check.DatabaseReport (triggers, view ownership)
        self.trigger_seconds_per_row = None
        self.last_result = None
        self.last_failure = None
        self.interactive = True
        self._busy = False
        self._outcome = None
        self._failed_signature = None  # (edits, time, layer key) of the last failed save
        self._snapshots = {}
        self._versions = {"buildings": {}, "containments": {}}
        self._measuring = None
        self._connections = []
        for key, layer in self.layers.items():
            self._connect(key, layer)

    # -- wiring -----------------------------------------------------------------------------------
    def _connect(self, key, layer):
        slots = (
            (layer.beforeCommitChanges, lambda stop, k=key: self._before_commit(k, stop)),
            (layer.afterCommitChanges, lambda k=key: self._after_commit(k)),
            (layer.editingStarted, lambda k=key: self._editing_started(k)),
            (layer.editingStopped, lambda k=key: self._editing_stopped(k)),
            (layer.attributeValueChanged, lambda fid, idx, value, k=key: self._changed(k, fid)),
            (layer.geometryChanged, lambda fid, geometry, k=key: self._changed(k, fid)),
            (layer.featureAdded, lambda fid, k=key: self._changed(k, fid)),
            (layer.featureDeleted, lambda fid, k=key: self._changed(k, fid, deleted=True)),
        )
        for signal, slot in slots:
            guarded = _guarded(slot)
            signal.connect(guarded)
            self._connections.append((signal, guarded))

    def disconnect_all(self):
        """Disconnect exactly the session's own slots (never QGIS's)."""
        for signal, slot in self._connections:
            try:
                signal.disconnect(slot)
            except (TypeError, RuntimeError):
                pass  # the layer is already gone
        self._connections = []
        self.layers = {}

    def update_editability(self):
        """Editing needs an IMIS user to attribute changes to (EDITING.md §9.5)."""
        chosen = settings.imis_user_id() is not None
        for key in ("buildings", "containments"):
            layer = self.layers.get(key)
            if layer is not None and not layer.isEditable():
                layer.setReadOnly(not chosen)
        return chosen

    # -- editing state ------------------------------------------------------------------------------
    def _editing_started(self, key):
        if self._busy:
            return
        if settings.imis_user_id() is None:
            _notify(Qgis.Critical, "Editing IMIS layers is refused until you choose your IMIS user "
                                   "(IMIS menu > IMIS database settings): every change is recorded in IMIS's "
                                   "history under that user.")
            QTimer.singleShot(0, self.layers[key].rollBack)
            return
        if key == "buildings":
            for other in HIDDEN + ("containments",):
                layer = self.layers.get(other)
                if layer is not None and not layer.isEditable():
                    layer.startEditing()
        if key in ("buildings", "containments"):
            self._warn_about_triggers()

    def _editing_stopped(self, key):
        if self._busy or key != "buildings" or self.layers["buildings"].isEditable():
            return
        # The hidden layers' edits belong to the building edits just saved or discarded.
        for other in HIDDEN:
            layer = self.layers.get(other)
            if layer is not None and layer.isEditable():
                self._quietly(lambda lay=layer: lay.rollBack())
        containments = self.layers.get("containments")
        if containments is not None and containments.isEditable() and not containments.isModified():
            self._quietly(containments.rollBack)

    def _quietly(self, action):
        busy, self._busy = self._busy, True
        try:
            return action()
        finally:
            self._busy = busy

    def _changed(self, key, fid, deleted=False):
        if self._busy:
            return
        if key in self._versions and fid >= 0:
            self._remember_version(key, fid)
        if key in HIDDEN:
            self._touch_buildings(self._bins_of(key, fid))
        elif key == "containments":
            self._touch_buildings(self._bins_of_containment(fid))

    def _remember_version(self, key, fid):
        cache = self._versions[key]
        if fid in cache:
            return
        layer = self.layers[key]
        request = QgsFeatureRequest(fid).setFlags(QgsFeatureRequest.NoGeometry).setSubsetOfAttributes(
            ["updated_at"], layer.dataProvider().fields())
        for feature in layer.dataProvider().getFeatures(request):
            cache[fid] = to_python(feature["updated_at"])

    def remember_versions(self, key, fids):
        """Called by the form when it opens a feature: that is when the editor 'loaded' it."""
        for fid in fids:
            if fid is not None and fid >= 0:
                self._remember_version(key, fid)

    def _feature(self, key, fid):
        layer = self.layers[key]
        added = layer.editBuffer().addedFeatures() if layer.editBuffer() else {}
        if fid in added:
            return added[fid]
        for feature in layer.dataProvider().getFeatures(QgsFeatureRequest(fid)):
            return feature
        return None

    def _bins_of(self, key, fid):
        feature = self._feature(key, fid)
        if feature is None:
            return []
        layer = self.layers[key]
        changed = layer.editBuffer().changedAttributeValues().get(fid, {}) if layer.editBuffer() else {}
        bins = {feature["bin"]}
        idx = layer.fields().indexOf("bin")
        if idx in changed:
            bins.add(changed[idx])
        return [to_python(b) for b in bins]

    def _bins_of_containment(self, fid):
        feature = self._feature("containments", fid)
        links = self.layers.get("build_contains")
        if feature is None or links is None:
            return []
        expression = f"\"containment_id\" = '{str(feature['id']).replace(chr(39), chr(39) * 2)}'"
        return [to_python(f["bin"]) for f in links.getFeatures(QgsFeatureRequest().setFilterExpression(expression))]

    def _touch_buildings(self, bins):
        """Mark the building as modified so that its Save button and prompts cover the change."""
        buildings = self.layers.get("buildings")
        if buildings is None or not buildings.isEditable():
            return
        idx = buildings.fields().indexOf("updated_at")
        for bin_ in bins:
            if bin_ is None or is_provisional(bin_):
                continue
            literal = "'" + str(bin_).replace("'", "''") + "'"
            request = QgsFeatureRequest().setFilterExpression(f'"bin" = {literal}').setFlags(
                QgsFeatureRequest.NoGeometry)
            for feature in buildings.getFeatures(request):
                if feature.id() < 0:
                    continue
                self._remember_version("buildings", feature.id())
                value = feature.attribute(idx)
                self._quietly(lambda f=feature, v=value: buildings.editBuffer().changeAttributeValue(f.id(), idx, v, v))

    # -- the commit -----------------------------------------------------------------------------------
    def _before_commit(self, key, stop):
        if self._busy:
            return
        layer = self.layers[key]
        signature = None
        try:
            changes = self.collect()
            signature = _signature(changes)
            last = self._failed_signature
            if last is not None and last[0] == signature and last[2] != key \
                    and time.monotonic() - last[1] < REPEAT_WINDOW_SECONDS:
                # "Save All" commits each IMIS layer in turn: the same edits just failed for another
                # layer of it, so keep this layer's edits too, without saving and reporting again.
                # (The same layer committing again is the editor retrying: that saves again.)
                self._hold(key, layer)
                self.last_failure = self._outcome[1] if self._outcome else None
                return
            result = self.save(changes) if changes else None
        except Exception as error:  # noqa: BLE001 - whatever went wrong, the edits must survive
            failure = error if isinstance(error, SaveFailed) else SaveFailed(
                [FeatureProblem("Save", f"Unexpected error while saving ({error}); nothing was saved and your "
                                        "edits are kept.")])
            if not isinstance(error, SaveFailed):
                import traceback

                QgsMessageLog.logMessage(traceback.format_exc(), LOG_TAG, Qgis.Critical)
            self._hold(key, layer)
            self._failed_signature = (signature, time.monotonic(), key)
            self._outcome = ("failed", failure)
            self.last_failure = failure
            self._select_failed(failure)
            _notify(Qgis.Critical, "Your IMIS edits could not be saved; nothing was written and your edits are "
                                   "kept: " + "; ".join(p.text() for p in failure.problems[:3]), failure.text())
            self.failed.emit(failure)
            return
        # Saved (or nothing to save): clean every IMIS buffer, so QGIS's commit writes nothing.
        for other_key, other in self.layers.items():
            if other.isEditable() and other.editBuffer() is not None:
                self._quietly(other.editBuffer().rollBack)
                if other is not layer:
                    other.undoStack().clear()
        self._versions = {"buildings": {}, "containments": {}}
        self._failed_signature = None
        self._outcome = ("saved", result)
        if result is not None:
            self.last_result = result
            text = self._summary(result)
            _notify(Qgis.Success, text, "\n".join(result.notes))
            self.saved.emit(result)

    def _after_commit(self, key):
        if key in self._snapshots:
            snapshot = self._snapshots.pop(key)
            self._quietly(lambda: self._restore(self.layers[key], snapshot))
        elif self._outcome is not None and self._outcome[0] == "saved" and self._outcome[1] is not None:
            self._outcome = None
            for layer in self.layers.values():
                layer.dataProvider().reloadData()
                layer.triggerRepaint()

    def _hold(self, key, layer):
        """Keep the layer's edits aside and empty its buffer: QGIS then commits nothing."""
        self._snapshots[key] = _snapshot(layer)
        self._quietly(layer.editBuffer().rollBack)

    def _restore(self, layer, snapshot):
        if not layer.isEditable():
            layer.startEditing()
        buffer = layer.editBuffer()
        layer.beginEditCommand("IMIS edits kept after a failed save")
        # The buffer itself is written to, not the layer: no join upserts or default values run
        # again, the edits come back exactly as they were.
        for feature in snapshot["added"]:
            buffer.addFeature(feature)
        for fid, changes in snapshot["changed"].items():
            for idx, (new, old) in changes.items():
                buffer.changeAttributeValue(fid, idx, new, old)
        for fid, geometry in snapshot["geometries"].items():
            buffer.changeGeometry(fid, geometry)
        for fid in snapshot["deleted"]:
            buffer.deleteFeature(fid)
        layer.endEditCommand()

    def _select_failed(self, failure):
        for problem in failure.problems:
            layer = self.layers.get(problem.layer)
            if layer is not None and problem.fid is not None:
                layer.selectByIds([problem.fid], QgsVectorLayer.AddToSelection)

    def _summary(self, result):
        parts = [f"IMIS edits saved ({result.revisions} history rows"]
        created = [v for v in result.keys.values()]
        if created:
            parts.append(f"; new: {', '.join(created)}")
        parts.append(f"; {result.seconds:.1f} s")
        if result.containment_write_seconds > 0.5:
            parts.append(f", of which {result.containment_write_seconds:.1f} s in IMIS's containment trigger")
        return "".join(parts) + ")."

    # -- collecting the buffers ---------------------------------------------------------------------
    def collect(self):
        changes = ChangeSet()
        problems = []
        for key, layer in self.layers.items():
            if not layer.isEditable() or layer.editBuffer() is None:
                continue
            self._collect_layer(key, layer, changes, problems)
        if problems:
            raise SaveFailed(problems)
        return changes

    def _collect_layer(self, key, layer, changes, problems):
        buffer = layer.editBuffer()
        fields = layer.fields()
        user_columns = USER_COLUMNS[key]
        added = buffer.addedFeatures()
        changed = buffer.changedAttributeValues()
        geometries = buffer.changedGeometries()
        deleted = set(buffer.deletedFeatureIds())
        existing = sorted(({fid for fid in changed} | set(geometries) | deleted) - set(added))
        originals = {}
        if existing:
            request = QgsFeatureRequest().setFilterFids(existing)
            originals = {f.id(): f for f in layer.dataProvider().getFeatures(request)}
        key_column = KEYS[key]
        for fid, feature in added.items():
            values = {}
            for column in user_columns:
                idx = fields.indexOf(column)
                if idx >= 0:
                    values[column] = to_python(feature.attribute(idx), fields.at(idx))
            key_value = to_python(feature.attribute(key_column)) if key in ("buildings", "containments") else None
            if key in ("buildings", "containments") and key_value is None:
                key_value = f"new-{-fid}"
            edit = RowEdit(table=key, action="insert", key=key_value, values=values, layer=key, fid=fid)
            if feature.hasGeometry():
                edit.geometry = bytes(feature.geometry().asWkb())
                edit.geometry_changed = True
            changes.add(edit)
        for fid in existing:
            original = originals.get(fid)
            if original is None:
                problems.append(FeatureProblem(f"{key} feature {fid}", "is no longer in the database. Reload the layer.",
                                               layer=key, fid=fid))
                continue
            key_value = to_python(original[key_column])
            base = {}
            if key in ("owners", "build_contains", "build_toilets"):
                base = {c: to_python(original[c]) for c in ("bin", "containment_id", "toilet_id")
                        if original.fields().indexOf(c) >= 0}
            if fid in deleted:
                changes.add(RowEdit(table=key, action="delete", key=key_value, values=base, layer=key, fid=fid,
                                    expected_updated_at=self._versions.get(key, {}).get(fid)))
                continue
            values = {}
            for idx, value in changed.get(fid, {}).items():
                if idx >= original.fields().count():
                    continue  # joined fields live in their own layer's buffer
                name = fields.at(idx).name()
                new, old = to_python(value, fields.at(idx)), to_python(original.attribute(idx), fields.at(idx))
                if not _same(new, old):
                    values[name] = new
            geometry = geometries.get(fid)
            if geometry is not None and original.hasGeometry() and geometry.equals(original.geometry()):
                geometry = None
            if not values and geometry is None:
                continue  # only no-op changes (e.g. the session's marks on buildings)
            if key == "build_contains" and values:
                problems.append(FeatureProblem(
                    f"Link of building {base.get('bin')} to containment {base.get('containment_id')}",
                    "Links cannot be changed: unlink the containment and link the right one.", layer=key, fid=fid))
                continue
            if key in ("owners", "build_toilets") and "bin" in values:
                problems.append(FeatureProblem(f"Row of building {base.get('bin')}", "Its BIN cannot be changed.",
                                               layer=key, fid=fid))
                continue
            edit = RowEdit(table=key, action="update", key=key_value, values=dict(base, **values), layer=key,
                           fid=fid, expected_updated_at=self._versions.get(key, {}).get(fid))
            if key in ("owners", "build_toilets"):
                edit.values = {**values, "bin": base.get("bin")}
            if key in ("buildings", "containments") and geometry is not None:
                edit.geometry = None if geometry.isNull() else bytes(geometry.asWkb())
                edit.geometry_changed = True
            changes.add(edit)

    # -- running the writer -------------------------------------------------------------------------------
    def save(self, changes):
        user_id = settings.imis_user_id()
        if user_id is None:
            raise SaveFailed([FeatureProblem("Settings", "No IMIS user is chosen: choose yours in IMIS menu > "
                                                         "IMIS database settings, then save again.")])
        if changes.touches_containments() and self.report is not None and self.report.view_problems:
            raise SaveFailed([FeatureProblem("Containments", problem) for problem in self.report.view_problems],
                             headline="Containment edits cannot be saved with this database role; nothing was saved.")
        try:
            conn = db.connect_uri(self.uri, application_name="QGIS IMIS plugin (editing)")
        except db.ImisDbError as error:
            raise SaveFailed([FeatureProblem("Save", f"{error} Your edits are kept.")]) from None
        try:
            slow = changes.touches_containments() and self.report is not None and self.report.containment_trigger_present
            if self.interactive and (slow or len(changes.edits) > THREAD_WHEN_EDITS):
                return self._save_with_progress(conn, changes, user_id)
            return writer.save(conn, changes, user_id, settings.timezone())
        finally:
            conn.close()

    def _save_with_progress(self, conn, changes, user_id):
        from qgis.PyQt.QtWidgets import QApplication, QProgressDialog

        rows = changes.count("containments")
        estimate = ""
        if rows and self.trigger_seconds_per_row:
            estimate = f" IMIS's containment trigger takes about {rows * self.trigger_seconds_per_row:.0f} s."
        dialog = QProgressDialog("Saving IMIS edits…" + estimate, "Cancel", 0, 0,
                                 QApplication.activeWindow())
        dialog.setWindowTitle("IMIS")
        dialog.setMinimumDuration(300)
        state = {"stage": "", "result": None, "error": None}

        def work():
            try:
                state["result"] = writer.save(conn, changes, user_id, settings.timezone(),
                                              progress=lambda stage: state.__setitem__("stage", stage))
            except BaseException as error:  # handed back to the main thread
                state["error"] = error

        worker = threading.Thread(target=work, name="imis-save", daemon=True)
        loop = QEventLoop()
        timer = QTimer()
        timer.setInterval(100)

        def poll():
            if state["stage"]:
                dialog.setLabelText(f"Saving IMIS edits: {state['stage']}…{estimate}")
            if not worker.is_alive():
                loop.quit()

        timer.timeout.connect(poll)
        dialog.canceled.connect(conn.cancel)
        worker.start()
        timer.start()
        loop.exec_()
        timer.stop()
        worker.join()
        dialog.close()
        if state["error"] is not None:
            raise state["error"]
        return state["result"]

    # -- IMIS's containment trigger ------------------------------------------------------------------------
    def _warn_about_triggers(self):
        report = self.report
        if report is None:
            return
        if report.view_problems:
            _notify(Qgis.Warning, "Containment edits will fail with this database role: "
                    + " ".join(report.view_problems))
            return
        if report.containment_trigger_present and self._measuring is None:
            self._measuring = threading.Thread(target=self._measure_trigger, name="imis-trigger-cost", daemon=True)
            self._measuring.start()
            _notify(Qgis.Info, "This IMIS database refreshes a chart view on every containment change "
                               "(trigger tgr_set_builtupperwardsummary): saving containments takes longer; "
                               "the plugin shows progress.")

    def _measure_trigger(self):
        """Dry run: one containment UPDATE in a rolled-back transaction times the trigger (and checks rights)."""
        try:
            conn = db.connect_uri(self.uri, application_name="QGIS IMIS plugin (trigger check)")
        except db.ImisDbError:
            return
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT id FROM fsm.containments WHERE deleted_at IS NULL LIMIT 1")
                row = cur.fetchone()
                if row is None:
                    return
                started = time.perf_counter()
                cur.execute("UPDATE fsm.containments SET updated_at = updated_at WHERE id = %s", (row[0],))
                self.trigger_seconds_per_row = time.perf_counter() - started
        except Exception as error:  # noqa: BLE001 - reported, never raised from a worker thread
            QgsMessageLog.logMessage(f"Containment trigger check failed: {error}", LOG_TAG, Qgis.Warning)
        finally:
            try:
                conn.rollback()
                conn.close()
            except Exception:  # noqa: BLE001 - the connection may be gone already
                pass


def _guarded(slot):
    """A slot that never lets an exception escape (PyQt would abort QGIS); the error is logged."""
    def run(*args):
        try:
            return slot(*args)
        except Exception as error:  # noqa: BLE001
            import traceback

            QgsMessageLog.logMessage(f"IMIS editing: unexpected error: {error}\n{traceback.format_exc()}",
                                     LOG_TAG, Qgis.Critical)
            return None

    return run


def _signature(changes):
    """What the edits are, independent of QGIS's temporary feature ids."""
    return tuple(
        (e.table, e.action, str(e.key), tuple(sorted((k, repr(v)) for k, v in e.values.items())), e.geometry)
        for e in changes.edits
    )


def _same(a, b):
    if a is None or b is None:
        return a is None and b is None
    try:
        from decimal import Decimal

        if isinstance(a, (int, float, Decimal)) and isinstance(b, (int, float, Decimal)) and \
                not isinstance(a, bool) and not isinstance(b, bool):
            return Decimal(str(a)) == Decimal(str(b))
    except Exception:  # noqa: BLE001
        pass
    return a == b


def _snapshot(layer):
    buffer = layer.editBuffer()
    return {
        "added": [_copy(f) for f in buffer.addedFeatures().values()],
        "changed": {fid: {idx: (value, None) for idx, value in attrs.items()}
                    for fid, attrs in buffer.changedAttributeValues().items()},
        "geometries": {fid: QgsGeometry(g) for fid, g in buffer.changedGeometries().items()},
        "deleted": list(buffer.deletedFeatureIds()),
    }


def _copy(feature):
    from qgis.core import QgsFeature

    return QgsFeature(feature)
