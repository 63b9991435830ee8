# PyInstaller hook for huggingface_hub (pyinstaller-hooks-contrib has none).
#
# Saving an adapter writes a README from huggingface_hub's model card templates (plain
# files in the package), so they travel with it. Nothing here reaches a hub: Enclave
# runs with HF_HUB_OFFLINE=1 and its network guard.
from PyInstaller.utils.hooks import collect_data_files, copy_metadata

datas = collect_data_files("huggingface_hub", excludes=["**/*.pyi"]) + copy_metadata(
    "huggingface_hub"
)
