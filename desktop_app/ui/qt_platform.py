"""Which Qt platform plugin will draw the windows, and whether it can load.

On Linux, Qt's X11 plugin (xcb) needs system libraries that minimal installations lack
(libxcb-cursor0 above all, since Qt 6.5). Without them Qt aborts the process with a
message about "platform plugins" that tells a user nothing. This module finds the
missing library first, by loading the plugin the same way Qt does, so Enclave can say
what to install instead.
"""

from __future__ import annotations

import ctypes
import os
import sys
from pathlib import Path

from desktop_app.core.errors import UserInputError

#: The Debian/Ubuntu packages Qt's X11 plugin needs beyond a basic X11 desktop.
XCB_PACKAGES_DEBIAN = (
    "libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 "
    "libxcb-shape0 libxcb-xkb1 libxkbcommon-x11-0"
)
#: The same for Red Hat family systems.
XCB_PACKAGES_REDHAT = "xcb-util-cursor xcb-util-wm xcb-util-keysyms xcb-util-image"


class QtPlatformError(UserInputError):
    """Qt's windowing plugin for this screen cannot be loaded."""


def plugins_dir() -> Path:
    """The folder holding Qt's platform plugins (inside the bundle when frozen)."""
    from PySide6.QtCore import QLibraryInfo

    return Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath)) / "platforms"


def will_use_xcb() -> bool:
    """True when Qt will draw through X11: on Linux, with an X11 display, and neither
    another plugin chosen (QT_QPA_PLATFORM) nor a Wayland session."""
    if not sys.platform.startswith("linux"):
        return False
    chosen = os.environ.get("QT_QPA_PLATFORM", "").split(":")[0].split(";")[0]
    if chosen:
        return chosen == "xcb"
    if os.environ.get("WAYLAND_DISPLAY") and os.environ.get("XDG_SESSION_TYPE") == "wayland":
        return False
    return bool(os.environ.get("DISPLAY"))


def xcb_load_problem(plugin: Path | None = None) -> str | None:
    """Why Qt's X11 plugin cannot load here (the loader's own words, which name the
    missing library), or None when it loads.

    Loading the plugin with the system's loader is what Qt does a moment later; doing it
    first turns an abort into a message.
    """
    plugin = plugin or plugins_dir() / "libqxcb.so"
    if not plugin.is_file():
        return f"{plugin} is missing"
    try:
        ctypes.CDLL(str(plugin))
    except OSError as error:
        return str(error)
    return None


def check_qt_platform() -> None:
    """Raise :class:`QtPlatformError` when the X11 plugin is needed and cannot load.

    Raises:
        QtPlatformError: With the missing library and the packages to install.
    """
    if not will_use_xcb():
        return
    problem = xcb_load_problem()
    if problem is None:
        return
    raise QtPlatformError(
        f"Enclave cannot open its window: Qt's X11 support does not load ({problem}).",
        "Ask your IT department to install the X11 libraries Qt needs. On Debian or "
        f"Ubuntu: sudo apt install {XCB_PACKAGES_DEBIAN}. On Red Hat, Rocky or Fedora: "
        f"sudo dnf install {XCB_PACKAGES_REDHAT}. The command line (enclave --help) "
        "works without them.",
    )
