# PyInstaller hook for portalocker (pyinstaller-hooks-contrib has none).
#
# The audit log's cross-process lock. portalocker picks its platform backend (fcntl or
# msvcrt) at import time and reads its version from its metadata.
from PyInstaller.utils.hooks import collect_submodules, copy_metadata

hiddenimports = collect_submodules("portalocker", filter=lambda name: name != "portalocker.redis")
datas = copy_metadata("portalocker")
