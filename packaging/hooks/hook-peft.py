# PyInstaller hook for PEFT (pyinstaller-hooks-contrib has none).
#
# PEFT picks its tuner classes (LoRA and the rest) by name at run time and checks the
# versions of its dependencies through their metadata, so every submodule and the
# metadata travel. Sources too ("pyz+py"): torch's compiler reads the source of the
# functions it traces.
from PyInstaller.utils.hooks import collect_submodules, copy_metadata

hiddenimports = collect_submodules("peft")
datas = copy_metadata("peft")
module_collection_mode = "pyz+py"
