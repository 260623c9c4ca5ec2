"""A settings file with values of the wrong kind: the window opens, works, and says so once."""

from __future__ import annotations

import json

from PySide6.QtCore import Qt

from playground import settings


def test_bad_settings_values_open_the_window_with_one_notice_that_waits_for_nothing(
        make_window, wait_idle):
    settings.take_notices()
    path = settings.settings_path()
    path.write_text(json.dumps({"schema_version": settings.SCHEMA_VERSION, "last_tokenizer": "bpe",
                                "tiny_shakespeare_url": None, "last_corpus": 12345,
                                "recent_corpora": "notalist"}), encoding="utf-8")
    window = make_window()
    window.show()
    wait_idle(window)
    box = window.notice_box
    assert box is not None and box.isVisible()
    assert box.windowModality() == Qt.NonModal and not box.isModal()
    assert "last_tokenizer" in box.text() and "settings.corrupt-" in box.text()
    # The defaults are in use, and what the window saves since is sound.
    assert window.state.tokenizer.kind == "char"
    window._fill_recent_menu()
    assert [a.data() for a in window.recent_menu.actions()] == [window.state.corpus.source]
    stored = json.loads(path.read_text(encoding="utf-8"))
    assert stored["recent_corpora"] == [window.state.corpus.source]
    box.close()
    window.close()

    again = make_window()
    again.show()
    wait_idle(again)
    assert again.notice_box is None  # said once
