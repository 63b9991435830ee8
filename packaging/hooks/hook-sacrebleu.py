# PyInstaller hook for sacrebleu (pyinstaller-hooks-contrib has none).
#
# sacrebleu loads its tokenizers ("13a" and the others) by name with importlib, which
# PyInstaller's import scan cannot see.
from PyInstaller.utils.hooks import collect_submodules, copy_metadata

hiddenimports = collect_submodules("sacrebleu")
datas = copy_metadata("sacrebleu")
