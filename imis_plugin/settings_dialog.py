"""'IMIS database settings': pick a QGIS saved connection, the IMIS user and time zone."""
from qgis.PyQt.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
)

from . import db, settings
from .schema_check import check_database


class SettingsDialog(QDialog):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWindowTitle("IMIS database settings")
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.connection = QComboBox()
        self.connection.addItems(db.saved_connection_names())
        self.connection.setCurrentText(settings.connection_name())
        self.connection.setToolTip("A PostgreSQL connection saved in QGIS (Data Source Manager).")
        form.addRow("QGIS saved connection", self.connection)
        self.user = QComboBox()
        self.user.setToolTip("The IMIS user (auth.users) that edits and audit rows are attributed to.")
        form.addRow("IMIS user for edits", self.user)
        self.timezone = QLineEdit(settings.timezone())
        self.timezone.setToolTip("Time zone IMIS writes created_at/updated_at in (e.g. Asia/Kathmandu, Asia/Dhaka).")
        form.addRow("IMIS time zone", self.timezone)
        layout.addLayout(form)
        check = QPushButton("Check connection")
        check.clicked.connect(self.run_check)
        layout.addWidget(check)
        self.report = QPlainTextEdit()
        self.report.setReadOnly(True)
        layout.addWidget(self.report)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.connection.currentTextChanged.connect(self.load_users)
        self.load_users()

    def load_users(self):
        self.user.clear()
        self.user.addItem("(not chosen: editing disabled)", None)
        name = self.connection.currentText()
        if not name:
            return
        try:
            conn = db.connect_saved(name)
        except db.ImisDbError as error:
            self.report.setPlainText(str(error))
            return
        try:
            with conn.cursor() as cur:
                cur.execute(
                    "SELECT id, name, email FROM auth.users WHERE deleted_at IS NULL AND coalesce(status, 1) <> 0 ORDER BY name"
                )
                for user_id, name_, email in cur.fetchall():
                    self.user.addItem(f"{name_} <{email}>", user_id)
        except Exception as error:  # a database without auth.users: say so, keep the dialog usable
            self.report.setPlainText(f"Cannot list IMIS users: {error}")
        finally:
            conn.close()
        index = self.user.findData(settings.imis_user_id())
        if index >= 0:
            self.user.setCurrentIndex(index)

    def run_check(self):
        try:
            conn = db.connect_saved(self.connection.currentText())
        except db.ImisDbError as error:
            self.report.setPlainText(str(error))
            return
        try:
            self.report.setPlainText("\n".join(check_database(conn).lines()))
        finally:
            conn.close()

    def accept(self):
        settings.set_connection_name(self.connection.currentText())
        settings.set_imis_user_id(self.user.currentData())
        settings.set_timezone(self.timezone.text().strip())
        super().accept()
