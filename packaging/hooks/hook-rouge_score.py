# PyInstaller hook for rouge-score (pyinstaller-hooks-contrib has none).
#
# ROUGE-L for the Evaluate step. Its tokenizer and scorer modules are plain imports;
# the metadata travels so the run record can name the version.
from PyInstaller.utils.hooks import collect_submodules, copy_metadata

hiddenimports = collect_submodules("rouge_score", filter=lambda name: "test" not in name)
datas = copy_metadata("rouge-score")
