# PyInstaller hook for Accelerate (pyinstaller-hooks-contrib has none).
#
# The Trainer imports accelerate's utilities lazily and accelerate reads the installed
# versions of torch and friends from their metadata; its own metadata and submodules
# travel, and its sources for torch's compiler ("pyz+py").
from PyInstaller.utils.hooks import collect_data_files, collect_submodules, copy_metadata

hiddenimports = collect_submodules(
    "accelerate", filter=lambda name: not name.startswith("accelerate.test_utils")
)
datas = copy_metadata("accelerate") + collect_data_files("accelerate", excludes=["**/*.pyi"])
module_collection_mode = "pyz+py"
