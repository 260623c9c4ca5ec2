"""The missions' checks, without a window: fake run folders (run.json, metrics.csv) and recorded
activity, a pass case and the failing cases of every mission; the settings keys they use; the
setups' configs; the lab report's rows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from playground import paths, settings
from playground.core import activity as act
from playground.core import missions as ms
from playground.core.checkpoint import FORMAT_VERSION, METRIC_FIELDS
from playground.core.config import PRESETS

GRAMMAR_SHA = "g" * 64
COPY_SHA = "c" * 64


def fake_run(name: str, *, corpus: str = ms.GRAMMAR, sha: str = GRAMMAR_SHA, tokenizer: str = "char",
             vocab: int = 40, preset: str = "tiny", step: int = 2000, best: float | None = 1.0,
             evals: list[tuple[int, float, float]] | None = None, **model) -> Path:
    """A run folder as the trainer leaves it, written by hand (no torch)."""
    folder = paths.runs_dir() / name
    folder.mkdir(parents=True)
    cfg = {**PRESETS[preset].for_vocab(vocab).to_dict(), **model}
    evals = evals if evals is not None else ([(0, 3.0, 3.0), (step, best, best)] if best is not None else [])
    info = {"format_version": FORMAT_VERSION, "name": name, "updated": 1000.0 + len(name), "model": cfg,
            "train": {"iters": step}, "corpus": {"source": corpus, "sha256": sha},
            "tokenizer": {"kind": tokenizer, "vocab_size": vocab}, "status": "done", "step": step,
            "best_val_loss": best, "last_val_loss": best}
    (folder / "run.json").write_text(json.dumps(info), encoding="utf-8")
    rows = [",".join(METRIC_FIELDS)] + [f"eval,{it},,{tr!r},{va!r},,," for it, tr, va in evals]
    (folder / "metrics.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return folder


def check(mission_id: str, activity: list[dict] | None = None, heads: dict | None = None) -> ms.Result:
    facts = ms.gather(activity=activity or [])
    if heads is not None:
        for r in facts.runs:
            r.heads = heads.get(r.name)
    return ms.BY_ID[mission_id].check(facts)


def did(kind: str, **details) -> dict:
    return {"kind": kind, "at": 1.0, **details}


# ─────────────────────────────────────────────────────────────── 1 · Tokens


def test_tokens_passes_with_a_bpe_trained_and_the_merges_player_opened():
    result = check("tokens", [did(act.BPE_TRAINED, vocab_size=512), did(act.MERGES_PLAYER, vocab_size=512)])
    assert result.passed and result.steps == [True, None, True] and result.missing == []


def test_tokens_says_what_is_missing():
    result = check("tokens", [did(act.BPE_TRAINED, vocab_size=512)])
    assert not result.passed and result.steps == [True, None, False]
    assert result.missing == ["Open 'BPE merges, step by step' on the Tokenizer tab."]
    assert check("tokens").steps == [False, None, False]


# ─────────────────────────────────────────────────────────────── 2 · Beat the bigram


def test_beat_the_bigram_passes_when_the_gpt_is_lower_and_both_were_overlaid():
    fake_run("big", preset="bigram", best=2.48)
    fake_run("gpt", best=1.93)
    result = check("beat-bigram", [did(act.RUNS_OVERLAID, runs=["big", "gpt"], bits_per_char=False)])
    assert result.passed, result.missing
    assert "The GPT 'gpt' (validation loss 1.930) beats the bigram 'big' (validation loss 2.480)." in result.evidence


def test_beat_the_bigram_fails_on_a_higher_gpt_another_text_or_no_overlay():
    fake_run("big", preset="bigram", best=1.5)
    fake_run("gpt", best=1.9)
    result = check("beat-bigram", [did(act.RUNS_OVERLAID, runs=["big", "gpt"])])
    assert result.steps == [True, True, False, False]
    assert "is not below the bigram" in result.missing[0]
    fake_run("gpt-other-text", sha="x" * 64, best=0.5)  # lower, but not on the bigram's text
    assert not check("beat-bigram", [did(act.RUNS_OVERLAID, runs=["big", "gpt"])]).passed
    fake_run("gpt2", best=1.2)
    assert check("beat-bigram", [did(act.RUNS_OVERLAID, runs=["big", "gpt"])]).steps == [True, True, True, False]


def test_an_untrained_run_is_not_evidence():
    fake_run("big", preset="bigram", step=0, best=None)
    assert check("beat-bigram").steps[0] is False


# ─────────────────────────────────────────────────────────────── 3 · Letters vs words


def test_letters_vs_words_needs_both_runs_compared_per_character():
    fake_run("chars", best=1.0)
    fake_run("words", tokenizer="word", vocab=97, best=1.6)
    per_token = [did(act.RUNS_OVERLAID, runs=["chars", "words"], bits_per_char=False)]
    assert check("letters-words", per_token).steps == [True, True, False]
    per_char = [did(act.RUNS_OVERLAID, runs=["chars", "words"], bits_per_char=True)]
    assert check("letters-words", per_char).passed
    assert check("letters-words", [did(act.RUNS_COMPARED, runs=["chars", "words"])]).passed


def test_letters_vs_words_fails_without_a_word_run_on_the_same_text():
    fake_run("chars")
    fake_run("words", tokenizer="word", sha="y" * 64)
    result = check("letters-words", [did(act.RUNS_OVERLAID, runs=["chars", "words"], bits_per_char=True)])
    assert result.steps == [True, False, False]


# ─────────────────────────────────────────────────────────────── 4 · Heads that copy


def test_heads_that_copy_passes_with_both_heads_and_the_induction_head_off():
    fake_run("copy", corpus="builtin:copy-lessons", sha=COPY_SHA)
    heads = {"copy": {"previous-token": [(0, 1)], "induction": [(1, 0)]}}
    off = [did(act.ABLATION, run="copy", heads=["layer 2 head 1"], mlps=[], positions=False)]
    result = check("copy-heads", off, heads)
    assert result.passed, result.missing
    assert "'copy' has a induction head: layer 2, head 1." in result.evidence


def test_heads_that_copy_fails_without_heads_or_with_another_head_off():
    fake_run("copy", corpus="builtin:copy-lessons", sha=COPY_SHA)
    other = [did(act.ABLATION, run="copy", heads=["layer 1 head 1"])]
    result = check("copy-heads", other, {"copy": {"previous-token": [(0, 1)], "induction": [(1, 0)]}})
    assert result.steps == [True, True, True, False]
    result = check("copy-heads", other, {"copy": {"previous-token": [], "induction": []}})
    assert result.steps == [True, False, False, False] and "train longer" in result.missing[0]
    fake_run("grammar")  # a model of another text is not a copy model
    assert check("copy-heads", heads={"grammar": {"induction": [(1, 0)]}}).steps[0] is True  # copy run still


def test_copy_heads_found_in_the_trained_copy_model(builtin_trained):
    run = builtin_trained("copy-lessons").run
    found = ms.copy_heads(run.path)
    assert found["previous-token"] and all(layer == 0 for layer, _ in found["previous-token"])
    assert found["induction"] and all(layer >= 1 for layer, _ in found["induction"])
    facts = ms.gather([run.path], [], heads=True)
    assert facts.runs[0].heads == found


# ─────────────────────────────────────────────────────────────── 5 · Where am I?


def test_where_am_i_passes_with_three_runs_or_the_experiment_and_the_shuffle():
    scored = [did(act.POSITIONS_COMPARED, corpus="Grammar lessons", positionals=["learned", "sinusoidal", "none"],
                  p_last=[0.4, 0.3, 0.2], p_last_shuffled=[0.1, 0.1, 0.2])]
    assert check("positions", scored).passed  # the experiment trains the three itself
    assert check("positions").steps == [False, False]
    for positional in ("none", "learned", "sinusoidal"):
        fake_run(f"pos-{positional}", positional=positional)
    result = check("positions")
    assert result.steps == [True, False] and result.evidence[0].startswith("Three runs on one text")


def test_where_am_i_needs_the_three_on_one_text():
    fake_run("pos-none", positional="none")
    fake_run("pos-learned")
    fake_run("pos-sine", positional="sinusoidal", sha="z" * 64)
    assert check("positions").steps[0] is False


# ─────────────────────────────────────────────────────────────── 6 · Temperature


def gen(t: float, top_k=None, step_mode=True) -> dict:
    return did(act.GENERATED, run="gpt", temperature=t, top_k=top_k, top_p=None, greedy=False, step_mode=step_mode)


def test_temperature_passes_with_two_temperatures_top_k_and_a_picked_token():
    fake_run("gpt")
    result = check("temperature", [gen(0.5), gen(1.5, top_k=5), did(act.PICKED_TOKEN, run="gpt")])
    assert result.passed, result.missing


def test_temperature_fails_on_one_temperature_no_top_k_or_no_pick():
    fake_run("gpt")
    result = check("temperature", [gen(0.5), gen(0.5, top_k=5), gen(1.5, step_mode=False)])
    assert result.steps == [True, False, True, False]
    assert check("temperature", [gen(0.5), gen(1.5)]).steps == [True, True, False, False]


# ─────────────────────────────────────────────────────────────── 7 · Too big for the text


def small_text_run(evals) -> Path:
    return fake_run("small-on-little", corpus="/x/python-docs-first-4000.txt", sha="s" * 64, preset="small",
                    step=600, best=min(v for _, _, v in evals), evals=evals)


MEMORISING = [(0, 4.0, 4.0), (100, 2.4, 2.4), (200, 2.0, 2.2), (300, 1.6, 2.25), (400, 1.2, 2.3), (500, 1.0, 2.4)]


def test_too_big_passes_when_the_detector_fired_and_both_lines_were_scored():
    small_text_run(MEMORISING)
    scored = [did(act.SCORED, run="small-on-little", train_vs_val=True, train_loss=0.9, val_loss=2.5)]
    result = check("too-big", scored)
    assert result.passed, result.missing
    assert "The overfitting note fired for 'small-on-little' at step 500." in result.evidence


def test_too_big_fails_when_validation_keeps_falling_or_nothing_was_scored():
    learning = [(it, 4 - it / 200, 4.1 - it / 200) for it in range(0, 600, 100)]
    small_text_run(learning)
    scored = [did(act.SCORED, run="small-on-little", train_vs_val=True, train_loss=1.5, val_loss=1.6)]
    assert check("too-big", scored).steps == [True, False, False]
    fake_run("other", evals=MEMORISING, best=2.2)
    assert check("too-big", scored).steps == [True, True, False]  # the scored run is not the memorising one


# ─────────────────────────────────────────────────────────────── 8 · Inside one prediction


def test_inside_one_prediction_needs_the_lens_and_the_loss_step():
    fake_run("gpt")
    assert check("one-prediction", [did(act.LOGIT_LENS, run="gpt"), did(act.LOSS_STEP, run="gpt")]).passed
    assert check("one-prediction", [did(act.LOGIT_LENS, run="gpt")]).steps == [True, True, False]


# ─────────────────────────────────────────────────────────────── 9 · Say it in robot language


def test_robot_language_passes_when_the_encoder_decoder_translates():
    fake_run("robot", corpus="builtin:robot-language", sha="r" * 64, arch="encoder-decoder")
    result = check("robot-language", heads={})
    assert result.steps == [True, False, None] and "needed to try" in result.missing[0]
    facts = ms.gather(activity=[])
    facts.runs[0].translated = 0.3
    result = ms.BY_ID["robot-language"].check(facts)
    assert not result.passed and "translates 30% of 40" in result.missing[0]
    facts.runs[0].translated = 0.95
    assert ms.BY_ID["robot-language"].check(facts).passed
    assert ms.ROBOT_SETUP.find(facts).name == "robot"
    fake_run("gpt-on-pairs", corpus="builtin:robot-language", sha="r" * 64)  # a GPT is not the mission's model
    assert [r.name for r in ms.gather(activity=[]).trained(arch="encoder-decoder")] == ["robot"]


# ─────────────────────────────────────────────────────────────── setups, activity, settings, report


def test_setups_configure_what_they_say_and_find_the_students_run():
    cfg = ms.NONE_GRAMMAR.model_config(40)
    assert (cfg.positional, cfg.n_layer, cfg.d_model) == ("none", 2, 64)
    assert ms.BIGRAM_GRAMMAR.model_config(40).arch == "bigram"
    assert ms.SMALL_TEXT.train_values(80) == {"iters": 600, "batch_size": 12, "lr": 1e-3, "warmup": 100,
                                              "eval_interval": 50}
    fake_run("tiny-grammar")
    fake_run("no-positions", positional="none")
    facts = ms.gather(activity=[])
    assert ms.TINY_GRAMMAR.find(facts).name == "tiny-grammar"
    assert ms.NONE_GRAMMAR.find(facts).name == "no-positions"
    assert ms.WORD_GRAMMAR.find(facts) is None and ms.BPE_SETUP.find(facts) is None


def test_the_small_text_is_the_start_of_the_built_in():
    from playground.core.builtin_corpora import builtin_text

    spec = ms.prepare_corpus(ms.SMALL_TEXT)
    assert Path(spec).read_text(encoding="utf-8") == builtin_text("python-docs")[:4000]
    assert ms.prepare_corpus(ms.TINY_GRAMMAR) == ms.GRAMMAR


def test_activity_is_kept_once_in_the_settings_and_heard_at_once():
    heard = []
    act.add_listener(heard.append)
    try:
        assert act.record(act.LOGIT_LENS, run="a") is True
        assert act.record(act.LOGIT_LENS, run="a") is False  # the same action again: no write
        assert act.record(act.GENERATED, run="a", temperature=0.5, top_k=None, step_mode=True) is True
    finally:
        act.remove_listener(heard.append)
    stored = settings.get("activity")
    assert [e["kind"] for e in stored] == [act.LOGIT_LENS, act.GENERATED] == [e["kind"] for e in heard]
    assert stored[1]["temperature"] == 0.5 and isinstance(stored[1]["at"], float)
    with pytest.raises(TypeError):
        act.record(act.ABLATION, run={"not": "plain"})


@pytest.mark.parametrize(("key", "bad"), [
    ("activity", [{"kind": ""}]), ("activity", [{"kind": "x", "v": {"a": 1}}]), ("activity", "x"),
    ("mission_progress", {"tokens": {"passed": "yes"}}), ("mission_progress", {"tokens": {"started": True}}),
    ("mission_progress", {"tokens": {"other": 1}}), ("mission_answers", {"tokens": 3}), ("tour_seen", 1),
])
def test_settings_refuse_bad_lesson_values(key, bad):
    good, problems = settings.validate({key: bad})
    assert key not in good and problems and problems[0].startswith(f"{key}: expected")


def test_settings_keep_good_lesson_values():
    values = {"activity": [{"kind": "logit_lens", "run": "a", "at": 1.5, "heads": ["layer 1 head 1"]}],
              "mission_progress": {"tokens": {"started": 1.0, "passed": True}},
              "mission_answers": {"tokens": "BPE tokens hold about 3 characters."}, "tour_seen": True}
    settings.update(**values)
    loaded = settings.load()
    assert {k: loaded[k] for k in values} == values


def test_mission_report_lists_started_missions_with_answers_and_checks():
    assert ms.mission_report() == []
    fake_run("gpt")
    settings.update(mission_progress={"one-prediction": {"started": 5.0}, "tokens": {"passed": True}},
                    mission_answers={"one-prediction": "Layer 2."})
    act.record(act.LOGIT_LENS, run="gpt")
    rows = ms.mission_report()
    assert [(r["number"], r["title"], r["answer"], r["passed"]) for r in rows] == [
        (1, "Tokens", "", False), (8, "Inside one prediction", "Layer 2.", False)]
    assert rows[1]["missing"] == ["Scroll 'The math' down to step 17, the loss."]
    assert rows[1]["evidence"][:2] == ["A trained model to write with: 'gpt'.", "You opened the logit lens."]
