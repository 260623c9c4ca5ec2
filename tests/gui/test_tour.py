"""The first-start tour: shown once on a first start when asked, never under --smoke; Next/Back walk
the tabs with the control ringed, Skip ends it for good, Help → Take the tour shows it again."""

from __future__ import annotations

from PySide6.QtCore import QRect

from playground import settings
from playground.gui import app
from playground.gui.highlight import highlighter_of
from playground.gui.lesson_hooks import find_target, tab_rect
from playground.gui.tour import STEPS, Tour


def ring_frames(window, widget, rect: QRect | None = None) -> bool:
    """The ring is shown and encloses the control (or ``rect`` of it)."""
    ring = highlighter_of(window).ring
    area = rect if rect is not None else widget.rect()
    where = QRect(widget.mapTo(window, area.topLeft()), area.size())
    return ring.isVisible() and ring.geometry().contains(where)


def test_the_tour_walks_the_tabs_and_skip_ends_it_for_good(make_window, qtbot):
    window = make_window(first_start_tour=True, load_initial=False)
    window.show()
    assert window.tour_timer is not None
    qtbot.waitUntil(lambda: window.findChild(Tour) is not None and window.findChild(Tour).isVisible())
    tour = window.findChild(Tour)
    assert window.isEnabled() and not tour.isModal()  # a card in the window, not a dialog
    seen = []
    for i, step in enumerate(STEPS):
        assert tour.index == i and tour.counter.text() == f"Tour · {i + 1} of {len(STEPS)}"
        assert tour.text.text() == step.text
        if step.tab is not None:
            assert window.tabs.tabText(window.tabs.currentIndex()) == step.tab
        if step.target == "help":
            bar = window.menuBar()
            assert ring_frames(window, bar, bar.actionGeometry(window.help_menu.menuAction()))
        elif step.target is not None:
            assert ring_frames(window, find_target(window, step.target))
        else:
            assert ring_frames(window, *tab_rect(window, step.tab))
        seen.append(step.tab)
        if i == 1:  # Back returns to the step before
            tour.back_button.click()
            assert tour.index == 0 and window.tabs.currentIndex() == 0
            tour.next_button.click()
        if i < len(STEPS) - 1:
            tour.next_button.click()
    assert seen[:6] == ["Corpus", "Tokenizer", "Model", "Train", "Attention", "Generate"]
    assert tour.next_button.text() == "Done" and settings.get("tour_seen") is False
    tour.skip_button.click()
    assert not tour.isVisible() and not highlighter_of(window).shown
    assert settings.get("tour_seen") is True

    again = make_window(first_start_tour=True, load_initial=False)  # seen once: none at the next start
    again.show()
    assert again.tour_timer is None and again.findChild(Tour) is None
    again.tour_action.trigger()  # Help → Take the tour
    assert again.findChild(Tour).isVisible() and again.findChild(Tour).index == 0


def test_done_ends_the_tour(make_window, qtbot):
    window = make_window(load_initial=False)
    window.show()
    tour = window.start_tour()
    for _ in STEPS:
        tour.next_button.click()
    assert not tour.isVisible() and settings.get("tour_seen") is True


def test_no_tour_in_tests_or_under_smoke(monkeypatch, qtbot):
    made = []

    class Spy(app.MainWindow):
        def __init__(self, **kwargs):
            made.append(kwargs)
            super().__init__(probe_device=False, load_initial=False, **kwargs)

    from playground.gui import smoke

    monkeypatch.setattr(app, "MainWindow", Spy)
    monkeypatch.setattr(app, "install_excepthook", lambda: None)  # pytest-qt's hook stays
    monkeypatch.setattr(smoke, "run", lambda application, window: window.close() and 0)
    assert app.run_app(smoke=True) == 0
    assert made == [{"first_start_tour": False}]
    assert app.QApplication.activeModalWidget() is None
    window = app.MainWindow.__mro__[1]  # the real class: tests' windows never ask for the tour
    assert window.__init__.__kwdefaults__["first_start_tour"] is False
