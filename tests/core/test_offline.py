"""The offline variables are in place before any Hugging Face library is imported."""

from __future__ import annotations

import os
import subprocess
import sys

from desktop_app.core.offline import OFFLINE_ENVIRONMENT, enforce_offline_environment


def test_enforce_overrides_what_the_shell_had(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "0")
    enforce_offline_environment()
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    assert os.environ["HF_HUB_DISABLE_TELEMETRY"] == "1"
    assert {"TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"} <= set(OFFLINE_ENVIRONMENT)


def test_entry_point_sets_them_before_hugging_face_is_imported():
    code = (
        "import sys\n"
        "import desktop_app.__main__ as entry\n"
        "early = [m for m in sys.modules if m.split('.')[0] in "
        "('torch', 'transformers', 'huggingface_hub', 'datasets', 'peft')]\n"
        "assert not early, early\n"
        "entry.main(['model', 'inspect', 'no/such-model'])\n"
        "import huggingface_hub.constants as hub\n"
        "assert hub.HF_HUB_OFFLINE, 'hub not offline'\n"
        "assert hub.HF_HUB_DISABLE_TELEMETRY, 'telemetry on'\n"
        "print('ok')\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "0", "HF_HUB_DISABLE_TELEMETRY": "0"}
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip().endswith("ok")
    assert "never downloads" in completed.stderr
