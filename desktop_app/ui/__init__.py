"""The PySide6 wizard. Qt is imported only in this package."""
