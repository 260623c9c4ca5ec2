"""A tab whose feature is not built yet: disabled, and it says what will come there."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget


class PlaceholderTab(QWidget):
    TITLE = ""
    AVAILABLE = False
    COMING = ""  # one paragraph: what the student will do here

    def __init__(self, state, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        column = QWidget()
        column.setMaximumWidth(640)
        inner = QVBoxLayout(column)
        heading = QLabel(f"The {self.TITLE} tab is coming soon")
        heading.setAlignment(Qt.AlignCenter)
        heading.setStyleSheet("font-size: 16pt; font-weight: bold; color: #333;")
        inner.addWidget(heading)
        self.message = QLabel(self.COMING)
        self.message.setWordWrap(True)
        self.message.setAlignment(Qt.AlignCenter)
        self.message.setStyleSheet("font-size: 11pt; color: #333;")
        inner.addWidget(self.message)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(column, 4)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        layout.addLayout(row)
        layout.addStretch(2)
