"""Every built-in text keeps the promise of its "what to look for", at the app's default settings.

Each built-in is trained as a student's Start trains it (the ``builtin_trained`` session fixture,
tests/builtin_models.py: about 40 s each on one idle core), and its promise is checked the way the
app shows it: head labels on random validation excerpts picked as the Attention tab picks them, the
validation loss, the Generate tab's text scores and samples. ``pytest -s`` prints the measured figures.
"""

from __future__ import annotations

import itertools
import random
import re

import pytest

from playground.core import attention_views as av
from playground.core import builtin_corpora as bc
from playground.core.checkpoint import Run
from playground.core.config import SamplingConfig
from playground.core.generate import score_text, stream_tokens

# One torch thread: at two, OpenMP's spinning threads stall for whole seconds whenever another
# process takes a core (a 35 s training took 150 s beside the other tests' processes).
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module", autouse=True)
def all_four(builtin_trained):
    """The four trainings two at a time (both cores busy), not one after the other."""
    builtin_trained.prefetch([b.name for b in bc.list_builtins()])

EXCERPTS = 20  # random validation excerpts, as "Random validation excerpt" picks them


# ─────────────────────────────────────────────────────── what each promise measures


def label_counts(run: Run, n: int = EXCERPTS, seed: int = 0) -> dict:
    """On ``n`` random validation excerpts, how often the newest checkpoint has a first-layer head
    labelled previous-token, a second-layer head labelled induction, and both, as the Attention tab
    computes them (the same excerpt picker, capture and labels, its slider at the newest step)."""
    tok = run.tokenizer
    step = av.checkpoint_steps(run)[-1]
    val_text = av.validation_text(run.path)
    rng = random.Random(seed)
    counts = {"previous-token": 0, "induction": 0, "both": 0}
    best = {"previous-token": 0.0, "induction": 0.0}  # the best head's mean score (for the report)
    sums: dict[tuple[int, int, str], float] = {}
    for _ in range(n):
        text = av.pick_excerpt(val_text, tok, min(run.model_config.context_length, av.EXCERPT_TOKENS), rng)
        cap = av.compute(run.path, step, tok.encode(text), av.Want(attention=True)).capture
        first, second = ({label for label, _score in layer} for layer in cap.head_labels[:2])
        found = {"previous-token": "previous-token" in first, "induction": "induction" in second}
        for name, hit in found.items():
            counts[name] += hit
        counts["both"] += all(found.values())
        for (l, layer), name in itertools.product(enumerate(cap.scores), best):
            for h, scores in enumerate(layer):
                sums[l, h, name] = sums.get((l, h, name), 0.0) + (scores[name] or 0.0)
    for (_l, _h, name), total in sums.items():
        best[name] = max(best[name], round(total / n, 2))
    return {**counts, "best": best}


def agreement_pairs() -> list[tuple[str, str]]:
    """(agreeing sentence, the same with the other verb form) for every noun and transitive verb."""
    pairs = []
    for (singular, plural), (verb_s, verb_p) in itertools.product(bc._NOUNS, bc._TRANSITIVE):
        pairs.append((f"The {singular} {verb_s} the ball.", f"The {singular} {verb_p} the ball."))
        pairs.append((f"The {plural} {verb_p} the ball.", f"The {plural} {verb_s} the ball."))
    return pairs


def prefers_agreement(run: Run) -> float:
    """Share of pairs where the Generate tab's "Score a text" finds the agreeing sentence less
    surprising (lower total loss) than its twin."""
    model, tok = run.load_model(), run.tokenizer

    def surprise(sentence: str) -> float:
        return sum(score_text(model, tok, "\n" + sentence).losses[1:])  # after a line start

    pairs = agreement_pairs()
    return sum(surprise(good) < surprise(bad) for good, bad in pairs) / len(pairs)


def next_number_right(run: Run, n: int = 100, seed: int = 0) -> float:
    """Share of validation lines, cut after a comma, that the model continues with the right
    number (greedy, the Generate tab at temperature 0)."""
    model, tok = run.load_model(), run.tokenizer
    val_text = av.validation_text(run.path)
    lines = [line for line in val_text.splitlines()[1:] if line.count(",") >= 2]  # [0] may be cut
    rng = random.Random(seed)
    right = 0
    for line in rng.sample(lines, n):
        numbers = line.rstrip(".").split(", ")
        k = rng.randint(2, len(numbers) - 1)
        prompt = "\n" + ", ".join(numbers[:k]) + ", "
        sampling = SamplingConfig(greedy=True, max_new_tokens=40, stop_text=",")
        written = "".join(s.text for s in stream_tokens(model, tok, prompt, sampling))
        right += re.split(r"[,.]", written)[0] == numbers[k]
    return right / n


def real_word_share(run: Run, step: int | None = None, chars: int = 2000, seed: int = 1337) -> float:
    """Share of the words in a sample of the model that occur in the corpus. A word is a run of two
    letters or more: single letters are nearly all "words" of the text (a, e, i, x...)."""
    model, tok = run.load_model(step), run.tokenizer
    vocabulary = set(re.findall(r"[a-z]+", bc.builtin_text("python-docs").lower()))
    sampling = SamplingConfig(seed=seed, max_new_tokens=chars)
    sample = "".join(s.text for s in stream_tokens(model, tok, "\n", sampling))
    words = re.findall(r"[a-z]{2,}", sample.lower())
    return sum(w in vocabulary for w in words) / max(1, len(words))


# ─────────────────────────────────────────────────────── the promises


def test_copy_lessons_grow_a_previous_token_head_and_an_induction_head(builtin_trained):
    t = builtin_trained("copy-lessons")
    counts = label_counts(t.run)
    print(f"copy-lessons: val loss {t.val_loss:.3f}, {counts} ({t.seconds:.0f} s)")
    # The promise: on (nearly) every random excerpt the Attention tab labels both kinds of head.
    assert counts["both"] >= 0.9 * EXCERPTS, counts
    assert t.val_loss < 1.1, t.val_loss  # the copies are predicted: far below the ~3.3 of no model


def test_grammar_lessons_learn_subject_verb_agreement(builtin_trained):
    t = builtin_trained("grammar-lessons")
    agree = prefers_agreement(t.run)
    print(f"grammar-lessons: val loss {t.val_loss:.3f}, agreement preferred in {agree:.1%} ({t.seconds:.0f} s)")
    assert t.val_loss < 0.6, t.val_loss
    assert agree >= 0.95, agree


def test_counting_learns_to_add_one(builtin_trained):
    t = builtin_trained("counting")
    right = next_number_right(t.run)
    print(f"counting: val loss {t.val_loss:.3f}, next number right {right:.0%} ({t.seconds:.0f} s)")
    assert t.val_loss < 0.25, t.val_loss
    assert right >= 0.9, right


def test_python_docs_samples_go_from_random_letters_to_words(builtin_trained):
    t = builtin_trained("python-docs")
    before, after = real_word_share(t.run, step=0), real_word_share(t.run)
    print(f"python-docs: val loss {t.val_loss:.3f}, real words {before:.0%} at step 0 -> {after:.0%} "
          f"({t.seconds:.0f} s)")
    assert t.val_loss < 1.45, t.val_loss
    assert before < 0.15 and after >= 0.5, (before, after)


def test_every_look_for_states_what_is_tested():
    """The texts name the measured criterion the tests above check, in the app's own words."""
    look = {name: b.look_for for name, b in bc.BUILTINS.items()}
    assert "previous token" in look["copy-lessons"] and "induction" in look["copy-lessons"]
    assert "9 in 10" in look["copy-lessons"]
    assert "Score" in look["grammar-lessons"] and "0.6" in look["grammar-lessons"]
    assert "9 in 10" in look["counting"] and "0.25" in look["counting"]
    assert "half" in look["python-docs"] and "1.45" in look["python-docs"]

