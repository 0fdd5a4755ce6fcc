"""QGIS attribute values <-> plain Python values for forms.rules and the writer."""
import datetime
from collections.abc import Mapping

from qgis.core import NULL, QgsApplication
from qgis.PyQt.QtCore import QDate, QDateTime, QTime, QVariant

_TRUE = {"true", "t", "1", "yes", "y"}
_FALSE = {"false", "f", "0", "no", "n"}


def to_python(value, field=None):
    """None for NULL, datetime for QDate/QDateTime, bool for booleans (also 'true'/'false' text)."""
    if value is None or value == NULL or (isinstance(value, QVariant) and value.isNull()):
        return None
    if isinstance(value, QVariant):
        value = value.value()
    if isinstance(value, str) and value == QgsApplication.nullRepresentation():
        return None  # what a form's text widget shows for NULL (QGIS's text widgets read it back so)
    if isinstance(value, QDateTime):
        if not value.isValid():
            return None
        if field is not None and field.type() == QVariant.Date:
            d = value.date()
            return datetime.date(d.year(), d.month(), d.day())
        return value.toPyDateTime()
    if isinstance(value, QDate):
        return datetime.date(value.year(), value.month(), value.day()) if value.isValid() else None
    if isinstance(value, QTime):
        return value.toPyTime() if value.isValid() else None
    if field is not None and field.type() == QVariant.Bool and isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    if field is not None and field.type() in (QVariant.Int, QVariant.LongLong) and isinstance(value, float) \
            and value.is_integer():
        return int(value)
    return value


def record(feature, fields=None):
    """{field name: Python value} of a QgsFeature (joined fields included)."""
    fields = fields or feature.fields()
    attributes = feature.attributes()
    return {fields.at(i).name(): to_python(attributes[i], fields.at(i)) for i in range(min(len(attributes), fields.count()))}


class LazyRecord(Mapping):
    """record(feature), converting only the fields a rule reads: a form evaluates its constraints
    and visibility rules a few hundred times when it opens."""

    def __init__(self, feature):
        self._feature = feature
        self._fields = feature.fields()
        self._attributes = feature.attributes()
        self._cache = {}

    def __getitem__(self, name):
        if name not in self._cache:
            idx = self._fields.lookupField(name)
            if idx < 0 or idx >= len(self._attributes):
                raise KeyError(name)
            self._cache[name] = to_python(self._attributes[idx], self._fields.at(idx))
        return self._cache[name]

    def __iter__(self):
        return iter(self._fields.names()[:len(self._attributes)])

    def __len__(self):
        return min(len(self._attributes), self._fields.count())
