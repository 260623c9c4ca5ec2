"""The token box widget: shows exactly the given tokens, wraps, and explains each on hover."""

from __future__ import annotations

from PySide6.QtCore import QPoint

from playground.gui.widgets.token_view import MAX_TOKENS, TokenView


def test_ids_labels_and_tooltips(qtbot):
    view = TokenView()
    qtbot.addWidget(view)
    view.resize(300, 200)
    view.show()
    view.set_tokens([5, 7, 9], ["Hi", "·there", "↵"], ["Hi", " there", "\n"], unknown_indexes={1})
    assert view.ids == [5, 7, 9]
    assert view.labels == ["Hi", "·there", "↵"]
    tip = view.tooltip_for(1)
    assert "id 7" in tip and "' there'" in tip and "unknown" in tip
    first = view._rects[0]
    assert view.index_at(first.center()) == 0
    assert view.index_at(QPoint(299, 199)) == -1


def test_wraps_to_width_and_newline_starts_a_row(qtbot):
    view = TokenView()
    qtbot.addWidget(view)
    view.resize(200, 300)
    view.show()
    labels = ["word"] * 30
    view.set_tokens(list(range(30)), labels)
    rows = {r.top() for r in view._rects}
    assert len(rows) > 1
    assert all(r.right() <= view.viewport().width() for r in view._rects)
    view.set_tokens([1, 2, 3], ["a", "↵", "b"])
    assert view._rects[2].top() > view._rects[0].top()


def test_very_long_sequences_are_truncated(qtbot):
    view = TokenView()
    qtbot.addWidget(view)
    n = MAX_TOKENS + 10
    view.set_tokens(list(range(n)), ["x"] * n)
    assert view.truncated and view.total_tokens == n
    assert len(view.ids) == MAX_TOKENS
