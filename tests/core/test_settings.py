"""Settings: every value is checked on load; a bad file never stops the app nor is saved back garbled."""

from __future__ import annotations

import json

import pytest

from playground import settings

HOSTILE = {
    "schema_version": settings.SCHEMA_VERSION,
    "last_tokenizer": "bpe",  # an object is expected
    "tiny_shakespeare_url": None,
    "last_corpus": 12345,
    "recent_corpora": "notalist",
}


def write(values) -> None:
    path = settings.settings_path()
    path.write_text(json.dumps(values), encoding="utf-8")


def set_aside() -> list:
    return sorted(settings.settings_path().parent.glob("settings.corrupt-*.json"))


@pytest.fixture(autouse=True)
def no_old_notices():
    settings.take_notices()
    yield
    settings.take_notices()


def test_values_of_the_wrong_kind_fall_back_to_the_defaults():
    write(HOSTILE)
    assert settings.load() == settings.DEFAULTS
    aside = set_aside()
    assert len(aside) == 1 and json.loads(aside[0].read_text(encoding="utf-8")) == HOSTILE
    # The file now holds the defaults, readable and right: loading again changes nothing.
    stored = json.loads(settings.settings_path().read_text(encoding="utf-8"))
    assert stored == {**settings.DEFAULTS, "schema_version": settings.SCHEMA_VERSION}
    notices = settings.take_notices()
    assert len(notices) == 1
    for key in ("last_tokenizer", "tiny_shakespeare_url", "last_corpus", "recent_corpora"):
        assert key in notices[0]
    assert str(aside[0]) in notices[0]
    assert settings.load() == settings.DEFAULTS
    assert settings.take_notices() == []  # said once
    assert len(set_aside()) == 1


def test_good_keys_are_kept_and_unknown_keys_dropped_silently():
    write({"schema_version": settings.SCHEMA_VERSION, "last_corpus": "builtin:counting",
           "last_tokenizer": {"kind": "bpe", "vocab_size": 512, "colour": "red"},
           "recent_corpora": ["builtin:counting", "/tmp/a.txt"], "window_theme": "dark"})
    values = settings.load()
    assert values["last_corpus"] == "builtin:counting"
    assert values["last_tokenizer"] == {"kind": "bpe", "vocab_size": 512}
    assert values["recent_corpora"] == ["builtin:counting", "/tmp/a.txt"]
    assert values["tiny_shakespeare_url"] == settings.TINY_SHAKESPEARE_URL
    assert "window_theme" not in values
    assert settings.take_notices() == [] and set_aside() == []  # nothing wrong: nothing said


def test_one_bad_value_keeps_the_good_ones():
    write({"schema_version": settings.SCHEMA_VERSION, "last_corpus": "builtin:counting",
           "last_tokenizer": {"kind": "bpe", "vocab_size": True}, "recent_corpora": ["a", 7]})
    values = settings.load()
    assert values["last_corpus"] == "builtin:counting"
    assert values["last_tokenizer"] is None and values["recent_corpora"] == []
    assert len(settings.take_notices()) == 1
    assert settings.load()["last_corpus"] == "builtin:counting"  # the rewritten file kept it


@pytest.mark.parametrize("text", ["{not json", "[1, 2, 3]", '{"schema_version": 99}', "\udcff"])
def test_a_file_that_is_not_settings_is_moved_aside(text):
    settings.settings_path().write_text(text, encoding="utf-8", errors="surrogateescape")
    assert settings.load() == settings.DEFAULTS
    assert len(set_aside()) == 1 and not settings.settings_path().exists()
    assert len(settings.take_notices()) == 1


def test_update_after_a_bad_file_never_writes_a_garbled_list():
    """`[spec, *recent]` with recent = "notalist" saved ["builtin:…", "n", "o", …]."""
    write(HOSTILE)
    settings.update(last_corpus="builtin:counting",
                    recent_corpora=["builtin:counting", *settings.get("recent_corpora")])
    stored = json.loads(settings.settings_path().read_text(encoding="utf-8"))
    assert stored["recent_corpora"] == ["builtin:counting"]
    assert stored["last_corpus"] == "builtin:counting"


def test_saving_a_value_of_the_wrong_kind_is_refused():
    with pytest.raises(settings.BadValue):
        settings.update(recent_corpora="notalist")
    assert not settings.settings_path().exists()
