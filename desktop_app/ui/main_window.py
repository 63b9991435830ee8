"""The main window: a step list, the pages, Back and Next, and the File menu.

The window owns the project (and so the RunConfig). Pages edit it through the
WizardPage contract; every change is autosaved shortly after it happens.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from functools import partial
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.config_io import config_to_dict
from desktop_app.core.errors import EnclaveError
from desktop_app.ui.pages.base import WizardPage
from desktop_app.ui.pages.data_page import DataPage
from desktop_app.ui.pages.evaluate_page import EvaluatePage
from desktop_app.ui.pages.hyperparameters_page import HyperparametersPage
from desktop_app.ui.pages.method_page import MethodPage
from desktop_app.ui.pages.model_page import ModelPage
from desktop_app.ui.pages.placeholder import PlaceholderPage
from desktop_app.ui.pages.train_page import TrainPage
from desktop_app.ui.project import (
    PROJECT_SUFFIX,
    RECENT_PROJECTS_KEY,
    Project,
    add_recent,
    app_settings,
    demo_config,
    read_autosave,
    recent_projects,
)
from desktop_app.ui.widgets.audit_viewer import open_audit_viewer
from desktop_app.ui.widgets.error_dialog import show_error
from desktop_app.ui.widgets.offline_status import OfflineStatus
from desktop_app.ui.widgets.step_list import StepList

#: (key saved in project files, title in the step list); the section each step edits.
STEPS = (
    ("model", "Model", "model"),
    ("data", "Data", "data"),
    ("method", "Method", "method"),
    ("hyperparameters", "Hyperparameters", "hyperparameters"),
    ("train", "Train", "output"),
    ("evaluate", "Evaluate", None),
)
AUTOSAVE_DELAY_MS = 800
PROJECT_FILTER = f"Enclave projects (*{PROJECT_SUFFIX});;All files (*)"


def default_pages(settings: QSettings) -> list[WizardPage]:
    """Every step's page."""
    return [
        ModelPage(settings),
        DataPage(),
        MethodPage(),
        HyperparametersPage(),
        TrainPage(),
        EvaluatePage(),
    ]


class MainWindow(QMainWindow):
    """The wizard window.

    Args:
        pages: Pages to show, matched to steps by their ``title``; steps without one get a
            placeholder. None uses :func:`default_pages`.
        settings: Where recent lists, geometry and the like are kept.
        restore: Reopen the autosaved project (as on a normal start).
    """

    def __init__(
        self,
        pages: Sequence[WizardPage] | None = None,
        settings: QSettings | None = None,
        restore: bool = True,
    ) -> None:
        super().__init__()
        self.setObjectName("mainWindow")
        self.settings = settings if settings is not None else app_settings()
        self.project = Project()
        given = {page.title: page for page in (pages or default_pages(self.settings))}
        self.pages: list[WizardPage] = [
            given.get(title) or PlaceholderPage(title, section) for _, title, section in STEPS
        ]
        self.current = 0
        self._autosave_timer = QTimer(self)
        self._autosave_timer.setSingleShot(True)
        self._autosave_timer.setInterval(AUTOSAVE_DELAY_MS)
        self._autosave_timer.timeout.connect(self.autosave)
        self._build()
        self._connect_pages()
        self._restore_window_state()
        restored = read_autosave() if restore else None
        self.set_project(restored or Project())
        self.demo_banner.setVisible(restored is None)

    # -- building ------------------------------------------------------------------------

    def _build(self) -> None:
        self.step_list = StepList([title for _, title, _ in STEPS])
        self.step_list.currentRowChanged.connect(self._on_step_clicked)
        self.stack = QStackedWidget()
        self.stack.setObjectName("pages")
        for page in self.pages:
            self.stack.addWidget(page)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("mainSplitter")
        self.splitter.addWidget(self.step_list)
        self.splitter.addWidget(self.stack)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([190, 900])

        self.demo_banner = QFrame()
        self.demo_banner.setObjectName("demoBanner")
        self.demo_banner.setFrameShape(QFrame.Shape.StyledPanel)
        banner_text = QLabel(
            "New here? Try the demo: the built-in SmolLM2 model and a sample policy "
            "handbook data set, ready to run in a few minutes."
        )
        banner_text.setWordWrap(True)
        self.demo_button = QPushButton("&Try the demo")
        self.demo_button.setObjectName("useDemoButton")
        self.demo_button.clicked.connect(self.use_demo)
        dismiss = QPushButton("Dis&miss")
        dismiss.setObjectName("dismissDemoButton")
        dismiss.clicked.connect(lambda: self.demo_banner.setVisible(False))
        banner_layout = QHBoxLayout(self.demo_banner)
        banner_layout.addWidget(banner_text, 1)
        banner_layout.addWidget(self.demo_button)
        banner_layout.addWidget(dismiss)

        self.back_button = QPushButton("&Back")
        self.back_button.setObjectName("backButton")
        self.back_button.clicked.connect(self.go_back)
        self.next_button = QPushButton("&Next")
        self.next_button.setObjectName("nextButton")
        self.next_button.clicked.connect(self.go_next)
        self.reason_label = QLabel()
        self.reason_label.setObjectName("blockedReason")
        self.reason_label.setWordWrap(True)
        self.reason_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        nav = QHBoxLayout()
        nav.addWidget(self.back_button)
        nav.addStretch(1)
        nav.addWidget(self.reason_label, 3)
        nav.addWidget(self.next_button)

        central = QWidget()
        layout = QVBoxLayout(central)
        layout.addWidget(self.demo_banner)
        layout.addWidget(self.splitter, 1)
        layout.addLayout(nav)
        self.setCentralWidget(central)
        self.setTabOrder(self.step_list, self.stack)
        self.setTabOrder(self.back_button, self.next_button)
        for key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            shortcut = QShortcut(QKeySequence(key), self)
            shortcut.activated.connect(self._on_enter)
        self._build_menu()
        self.offline_status = OfflineStatus(parent=self)
        self.statusBar().addPermanentWidget(self.offline_status)

    def _build_menu(self) -> None:
        menu = self.menuBar().addMenu("&File")

        def action(text: str, name: str, slot: object, keys: QKeySequence | None) -> QAction:
            item = QAction(text, self)
            item.setObjectName(name)
            if keys is not None:
                item.setShortcut(keys)
            item.triggered.connect(slot)
            menu.addAction(item)
            return item

        action("&New project", "actionNew", self.new_project, QKeySequence.StandardKey.New)
        action("&Open…", "actionOpen", self.open_dialog, QKeySequence.StandardKey.Open)
        self.recent_menu = QMenu("Open &recent", self)
        self.recent_menu.setObjectName("recentProjectsMenu")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        menu.addMenu(self.recent_menu)
        action("Open the &demo", "actionDemo", self.use_demo, None)
        menu.addSeparator()
        action("&Save", "actionSave", self.save, QKeySequence.StandardKey.Save)
        action("Save &as…", "actionSaveAs", self.save_as, QKeySequence.StandardKey.SaveAs)
        menu.addSeparator()
        action("&Quit", "actionQuit", self.close, QKeySequence(Qt.Modifier.CTRL | Qt.Key.Key_Q))
        menu = self.menuBar().addMenu("&Security")
        action("&Audit log…", "actionAuditLog", self.open_audit_log, None)

    def open_audit_log(self) -> None:
        """Show the workspace's audit log, verified, with its filters and export."""
        self.audit_viewer = open_audit_viewer(self)

    def _connect_pages(self) -> None:
        for page in self.pages:
            page.changed.connect(self._on_page_changed)
        # A finished run goes to the pages that show runs (Evaluate).
        for source in self.pages:
            finished = getattr(source, "run_finished", None)
            if finished is None:
                continue
            for target in self.pages:
                receiver = getattr(target, "set_run_result", None)
                if receiver is not None:
                    finished.connect(receiver)
        for source in self.pages:
            signal = getattr(source, "facts_changed", None)
            if signal is None:
                continue
            for target in self.pages:
                receiver = getattr(target, "set_model_facts", None)
                if receiver is not None:
                    signal.connect(receiver)
                    source.facts_cleared.connect(partial(receiver, None))

    # -- project -------------------------------------------------------------------------

    def set_project(self, project: Project) -> None:
        """Show a project and go to its saved step.

        The pages up to that step load the project now (the Model page starts reading
        the model's facts); later pages load it when they are shown.
        """
        self.project = project
        keys = [key for key, _, _ in STEPS]
        step = keys.index(project.step) if project.step in keys else 0
        for page in self.pages[:step]:
            page.load(project.config)
        self._show_step(step)
        self._update_title()

    def use_demo(self) -> None:
        """Start the demo project: built-in model, sample data."""
        if self._confirm_discard():
            self.set_project(Project(config=demo_config(), dirty=True))
            self.demo_banner.setVisible(False)
            self._schedule_autosave()

    def new_project(self) -> None:
        """Start an empty project."""
        if self._confirm_discard():
            self.set_project(Project(dirty=False))
            self._schedule_autosave()

    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a project", "", PROJECT_FILTER)
        if path:
            self.open_project(path)

    def open_project(self, path: str | Path) -> bool:
        """Open a project file; says what is wrong if it cannot."""
        if not self._confirm_discard():
            return False
        try:
            project = Project.load(path)
        except EnclaveError as error:
            self.show_error(error.user_message())
            return False
        add_recent(self.settings, RECENT_PROJECTS_KEY, Path(path).resolve())
        self.set_project(project)
        self.demo_banner.setVisible(False)
        self._schedule_autosave()
        return True

    def save(self) -> bool:
        """Save to the project's file (asks for one the first time)."""
        if self.project.path is None:
            return self.save_as()
        return self.save_to(self.project.path)

    def save_as(self) -> bool:
        path, _ = QFileDialog.getSaveFileName(
            self, "Save the project", f"{self.project.display_name}{PROJECT_SUFFIX}", PROJECT_FILTER
        )
        return bool(path) and self.save_to(path)

    def save_to(self, path: str | Path) -> bool:
        """Save the project to ``path`` and make it the project's file."""
        self._apply_current()
        try:
            saved = self.project.save(path)
        except OSError as error:
            self.show_error(f"The project could not be saved to {path}: {error.strerror}.")
            return False
        add_recent(self.settings, RECENT_PROJECTS_KEY, saved.resolve())
        self._update_title()
        self.autosave()
        return True

    def autosave(self) -> None:
        """Write the autosave file now."""
        self._autosave_timer.stop()
        # Autosave is a convenience; if the disk refuses, the next change tries again.
        with contextlib.suppress(OSError):
            self.project.write_autosave()

    def _confirm_discard(self) -> bool:
        if not self.project.dirty or self.project.path is None:
            return True  # An untitled project lives on in the autosave until replaced.
        answer = QMessageBox.question(
            self,
            "Unsaved changes",
            f"{self.project.display_name} has changes that are not saved. Discard them?",
            QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
        )
        return answer == QMessageBox.StandardButton.Discard

    def show_error(self, message: str) -> None:
        """Tell the user something went wrong, in plain words."""
        show_error(self, message)

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        paths = recent_projects(self.settings)
        for path in paths:
            item = self.recent_menu.addAction(path)
            item.triggered.connect(lambda _=False, p=path: self.open_project(p))
        if not paths:
            self.recent_menu.addAction("No recent projects").setEnabled(False)

    # -- navigation ----------------------------------------------------------------------

    def go_next(self) -> None:
        """Go to the next step, if this one is complete."""
        if self.next_button.isEnabled():
            self._apply_current()
            self._show_step(self.current + 1)

    def go_back(self) -> None:
        """Go to the previous step; nothing is lost."""
        if self.current > 0:
            self._apply_current()
            self._show_step(self.current - 1)

    def _on_enter(self) -> None:
        self.go_next()

    def _on_step_clicked(self, row: int) -> None:
        if row < 0 or row == self.current:
            return
        if row < self.current or row <= self._first_blocked():
            self._apply_current()
            self._show_step(row)
        else:
            self._refresh_navigation()

    def _first_blocked(self) -> int:
        for index, page in enumerate(self.pages):
            if page.blocking_reason() is not None:
                return index
        return len(self.pages) - 1

    def _show_step(self, index: int) -> None:
        index = max(0, min(index, len(self.pages) - 1))
        self.current = index
        self.pages[index].load(self.project.config)
        self.stack.setCurrentIndex(index)
        step = STEPS[index][0]
        if self.project.step != step:
            self.project.step = step
            self._schedule_autosave()
        self._refresh_navigation()

    def _apply_current(self) -> None:
        self.pages[self.current].apply(self.project.config)

    def _on_page_changed(self) -> None:
        page = self.sender()
        if isinstance(page, WizardPage):
            before = config_to_dict(self.project.config)
            page.apply(self.project.config)
            if config_to_dict(self.project.config) != before:
                self.project.dirty = True
                self._update_title()
                self._schedule_autosave()
        self._refresh_navigation()

    def _schedule_autosave(self) -> None:
        self._autosave_timer.start()

    def _refresh_navigation(self) -> None:
        reason = self.pages[self.current].blocking_reason()
        last = self.current == len(self.pages) - 1
        if reason is None and last:
            reason = "This is the last step."
        self.next_button.setEnabled(reason is None)
        self.back_button.setEnabled(self.current > 0)
        self.reason_label.setText(reason or "")
        self.reason_label.setVisible(bool(reason))
        self.step_list.show_states(self.pages, self.current, self._first_blocked())

    def step_state(self, index: int) -> str:
        """current; done or blocked (before it); open or locked (after a blocked step);
        later for a step that is not built yet."""
        return self.step_list.state(index)

    def _update_title(self) -> None:
        self.setWindowTitle(f"{self.project.display_name}[*] — Enclave")
        self.setWindowModified(self.project.dirty)

    # -- window state and closing --------------------------------------------------------

    def _restore_window_state(self) -> None:
        geometry = self.settings.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1100, 760)
        for splitter in self._named_splitters():
            state = self.settings.value(f"splitters/{splitter.objectName()}")
            if state is not None:
                splitter.restoreState(state)

    def _named_splitters(self) -> list[QSplitter]:
        """Every splitter of the window and its pages (each has its own objectName)."""
        return [splitter for splitter in self.findChildren(QSplitter) if splitter.objectName()]

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        for page in self.pages:
            is_running = getattr(page, "is_running", None)
            if is_running is None or not is_running():
                continue
            answer = QMessageBox.question(
                self,
                "A training run is in progress",
                "Stop the training run and quit? Its last checkpoint is kept, so it can be "
                "resumed later.",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            )
            if answer != QMessageBox.StandardButton.Yes:
                event.ignore()
                return
            stop_and_wait = getattr(page, "stop_and_wait", None)
            if stop_and_wait is not None:
                stop_and_wait(60_000)
        self._apply_current()
        self.autosave()
        self.settings.setValue("window/geometry", self.saveGeometry())
        for splitter in self._named_splitters():
            self.settings.setValue(f"splitters/{splitter.objectName()}", splitter.saveState())
        self.settings.sync()
        for page in self.pages:
            shutdown = getattr(page, "shutdown", None)
            if shutdown is not None:
                shutdown()
        event.accept()
