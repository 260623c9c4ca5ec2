"""The desktop app (PySide6 + pyqtgraph). Nothing here is imported by ``playground.core``."""
