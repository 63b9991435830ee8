"""Qt's X11 plugin is checked before Qt aborts over it: a missing system library becomes
a plain message naming it and the packages to install."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from desktop_app.ui import qt_platform
from desktop_app.ui.app import EXIT_CANNOT_OPEN_WINDOW, run_app
from desktop_app.ui.qt_platform import QtPlatformError, check_qt_platform, will_use_xcb

#: The X11 plugin and the loader's messages are Linux matters.
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only")


@pytest.fixture
def x11_session(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(qt_platform.sys, "platform", "linux")
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setenv("DISPLAY", ":0")


@pytest.fixture
def broken_plugin(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A plugins folder whose xcb plugin is not a loadable library."""
    (tmp_path / "libqxcb.so").write_bytes(b"not a shared library")
    monkeypatch.setattr(qt_platform, "plugins_dir", lambda: tmp_path)
    return tmp_path


def test_x11_is_used_only_with_a_display_and_no_other_choice(
    x11_session: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert will_use_xcb()
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    assert not will_use_xcb()
    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    assert will_use_xcb()
    monkeypatch.delenv("QT_QPA_PLATFORM")
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-0")
    monkeypatch.setenv("XDG_SESSION_TYPE", "wayland")
    assert not will_use_xcb()
    monkeypatch.delenv("WAYLAND_DISPLAY")
    monkeypatch.delenv("DISPLAY")
    assert not will_use_xcb()
    monkeypatch.setattr(qt_platform.sys, "platform", "win32")
    monkeypatch.setenv("DISPLAY", ":0")
    assert not will_use_xcb()


def test_a_plugin_that_does_not_load_is_named_with_what_to_install(
    x11_session: None, broken_plugin: Path
) -> None:
    with pytest.raises(QtPlatformError) as caught:
        check_qt_platform()
    message = caught.value.user_message()
    assert "Enclave cannot open its window" in message
    assert str(broken_plugin / "libqxcb.so") in message  # the loader's own words
    assert "sudo apt install libxcb-cursor0" in message
    assert "sudo dnf install xcb-util-cursor" in message


def test_a_missing_plugin_is_named(
    x11_session: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(qt_platform, "plugins_dir", lambda: tmp_path)
    assert qt_platform.xcb_load_problem() == f"{tmp_path / 'libqxcb.so'} is missing"


def test_no_check_without_x11(monkeypatch: pytest.MonkeyPatch, broken_plugin: Path) -> None:
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    check_qt_platform()  # offscreen needs no X11 libraries


def test_the_app_says_why_it_cannot_open_and_exits_two(
    x11_session: None, broken_plugin: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_app([]) == EXIT_CANNOT_OPEN_WINDOW
    error = capsys.readouterr().err
    assert error.startswith("Error: Enclave cannot open its window")
    assert "Traceback" not in error
