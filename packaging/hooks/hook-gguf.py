# PyInstaller hook for gguf (pyinstaller-hooks-contrib has none).
#
# transformers reads the demo model (a .gguf file) through this package; it checks the
# package's version through its metadata.
from PyInstaller.utils.hooks import collect_submodules, copy_metadata

hiddenimports = collect_submodules("gguf", filter=lambda name: "scripts" not in name)
datas = copy_metadata("gguf")
