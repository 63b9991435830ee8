"""enclave screenshots: one real picture of the window per wizard step."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QSize
from PySide6.QtGui import QColor, QImage

from desktop_app.cli import run_cli
from desktop_app.ui.main_window import STEPS
from desktop_app.ui.project import autosave_path
from desktop_app.ui.screenshots import ScreenshotError, take_screenshots

SIZE = (1100, 760)
#: The Train page's smoothed training-loss colour (train_page.py).
LOSS_CURVE = QColor("#1f77b4").rgb()


def _pixels(image: QImage) -> np.ndarray:
    """The image's pixels as 32-bit 0xAARRGGBB values."""
    image = image.convertToFormat(QImage.Format.Format_RGB32)
    rows = np.frombuffer(image.constBits(), dtype=np.uint32).reshape(
        image.height(), image.bytesPerLine() // 4
    )
    return rows[:, : image.width()]


@pytest.mark.slow
def test_every_step_is_saved_as_a_picture_of_the_window(
    tmp_path: Path, tiny_model_dir: Path, enclave_home: Path
):
    saved: list[Path] = []
    paths = take_screenshots(
        tmp_path / "shots" / "new",
        SIZE,
        model=str(tiny_model_dir),
        training_model=tiny_model_dir,
        train_steps=16,
        on_saved=saved.append,
    )

    assert paths == saved
    assert [path.name for path in paths] == [
        f"{number:02d}-{key}.png" for number, (key, _, _) in enumerate(STEPS, start=1)
    ]
    images = {}
    for path in paths:
        image = QImage(str(path))
        assert not image.isNull(), f"{path.name} is not a PNG image"
        assert image.size() == QSize(*SIZE), path.name
        assert len(np.unique(_pixels(image))) > 8, f"{path.name} looks blank"
        images[path.stem] = image
    assert len({_pixels(image).tobytes() for image in images.values()}) == len(images)
    # The Train page was grabbed after a real run: the loss curve is drawn across the plot,
    # not just its legend sample (a few dozen pixels).
    train = next(image for name, image in images.items() if name.endswith("-train"))
    assert np.count_nonzero(_pixels(train) == LOSS_CURVE) > 200
    # The user's workspace is untouched: the window autosaved into a throw-away one.
    assert os.environ["ENCLAVE_HOME"] == str(enclave_home)
    assert not autosave_path().exists()


def test_a_step_that_cannot_be_reached_is_reported_not_skipped(tmp_path: Path):
    missing = tmp_path / "no-such-model"
    with pytest.raises(ScreenshotError) as raised:
        take_screenshots(tmp_path / "shots", SIZE, model=str(missing), training_model=missing)
    message = raised.value.user_message()
    assert "the Model step is not complete" in message
    assert str(missing) in message
    assert [path.name for path in (tmp_path / "shots").iterdir()] == ["01-model.png"]


@pytest.mark.parametrize("size", ["big", "1100", "1100x", "100x100", "9000x760"])
def test_a_bad_size_is_refused_with_a_plain_message(tmp_path: Path, capsys, size: str):
    assert run_cli(["screenshots", str(tmp_path / "shots"), "--size", size]) == 2
    error = capsys.readouterr().err
    assert "--size" in error and "Traceback" not in error
    assert not (tmp_path / "shots").exists()


def test_a_file_given_as_the_folder_is_refused(tmp_path: Path, capsys):
    target = tmp_path / "notes.txt"
    target.write_text("not a folder", encoding="utf-8")
    assert run_cli(["screenshots", str(target)]) == 2
    assert "notes.txt is a file, not a folder" in capsys.readouterr().err
