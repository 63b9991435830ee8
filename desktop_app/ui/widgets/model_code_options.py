"""The Model step's advanced opt-ins for files that can run code: a model's own Python
code, and pickle weights converted to safetensors. Shown only for a model that needs one
of them (or while one is on), with what it means and the files concerned."""

from __future__ import annotations

import html

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QGroupBox, QLabel, QVBoxLayout, QWidget

from desktop_app.core.config import ModelSpec
from desktop_app.core.config_fields import field_help

_LISTED_FILES = 20


def _file_list(files: tuple[str, ...]) -> str:
    shown = "<br>".join(f"&nbsp;&nbsp;{html.escape(name)}" for name in files[:_LISTED_FILES])
    more = len(files) - _LISTED_FILES
    return shown + (f"<br>&nbsp;&nbsp;… and {more} more" if more > 0 else "")


def _note(name: str) -> QLabel:
    label = QLabel()
    label.setObjectName(name)
    label.setWordWrap(True)
    label.setVisible(False)
    return label


class ModelCodeOptions(QGroupBox):
    """Two opt-ins, off by default: ``model.allow_remote_code`` and
    ``model.convert_pickle_weights``. Each row appears only when the chosen model needs
    it, or while it is ticked (so it can be unticked)."""

    #: The user ticked or unticked an opt-in.
    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Advanced: model files that can run code", parent)
        self.setObjectName("modelCodeOptions")
        self.remote_code_check = QCheckBox("Allow this model's own code to &run")
        self.remote_code_check.setObjectName("allowRemoteCode")
        self.remote_code_check.setToolTip(field_help(ModelSpec, "allow_remote_code"))
        self.remote_code_check.toggled.connect(lambda _: self.changed.emit())
        self.remote_code_note = _note("remoteCodeWarning")
        self.pickle_check = QCheckBox("Convert &pickle weights to safetensors")
        self.pickle_check.setObjectName("convertPickleWeights")
        self.pickle_check.setToolTip(field_help(ModelSpec, "convert_pickle_weights"))
        self.pickle_check.toggled.connect(lambda _: self.changed.emit())
        self.pickle_note = _note("pickleWeightsNote")
        layout = QVBoxLayout(self)
        for widget in (
            self.remote_code_check,
            self.remote_code_note,
            self.pickle_check,
            self.pickle_note,
        ):
            layout.addWidget(widget)
        self._remote_files: tuple[str, ...] = ()
        self._pickle_files: tuple[str, ...] = ()
        self._refresh()

    def options(self) -> tuple[bool, bool]:
        """(allow_remote_code, convert_pickle_weights) as ticked."""
        return self.remote_code_check.isChecked(), self.pickle_check.isChecked()

    def set_options(self, allow_remote_code: bool, convert_pickle_weights: bool) -> None:
        """Tick the boxes as a configuration says, without announcing a change."""
        for check, value in (
            (self.remote_code_check, allow_remote_code),
            (self.pickle_check, convert_pickle_weights),
        ):
            check.blockSignals(True)
            check.setChecked(value)
            check.blockSignals(False)
        self._refresh()

    def show_model(
        self, remote_code: tuple[str, ...] = (), pickle_files: tuple[str, ...] = ()
    ) -> None:
        """Say which of the model's files would run code (empty: none; hide the rows
        that are not ticked)."""
        self._remote_files, self._pickle_files = remote_code, pickle_files
        self._refresh()

    def _refresh(self) -> None:
        allow, convert = self.options()
        remote_row = bool(self._remote_files) or allow
        pickle_row = bool(self._pickle_files) or convert
        self.remote_code_check.setVisible(remote_row)
        self.remote_code_note.setVisible(remote_row)
        self.pickle_check.setVisible(pickle_row)
        self.pickle_note.setVisible(pickle_row)
        self.setVisible(remote_row or pickle_row)
        files = self._remote_files
        self.remote_code_note.setText(
            "<b>Only for a model from a source you trust, after checking its code.</b> "
            "The code runs on this computer with your rights: it can read, change or send "
            "your files. Each use is recorded in the audit log with the files' sha256."
            + (f"<br>Files that would run:<br>{_file_list(files)}" if files else "")
        )
        self.pickle_note.setText(
            "Pickle files can run code when they are loaded. Enclave reads them once in "
            "PyTorch's safe mode, which refuses any file holding more than weights, keeps "
            "a safetensors copy in its cache and records the conversion in the audit log. "
            "Safer still: get the model as .safetensors."
            + (
                f"<br>Files to convert:<br>{_file_list(self._pickle_files)}"
                if self._pickle_files
                else ""
            )
        )
