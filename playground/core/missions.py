"""The missions: short lessons that check the student's own results (Help → Lessons).

Each mission has a goal, one-click setups (a corpus, a tokenizer, a model, training settings), a
few steps that point at the control to use, a question "what do you notice?", and a check on
what the student really did: their run folders (run.json, metrics.csv under
``$PLAYGROUND_HOME/data/runs``) and the app state the window records (``core.activity``).

Everything is plain data and pure functions, tested without a window::

    facts = gather()                  # the runs and the recorded activity (reads the disk)
    result = MISSIONS[1].check(facts)  # Result(passed, steps, missing, evidence)

A step's check returns ``(done, words)``: the words say what was found when it is done, what is
missing when not. The mission passes when every step with a check is done. Only ``gather``
reads files; the heads of a copy model (mission 4) need torch, so they are measured there, and
only when asked (``heads=True``).
"""

from __future__ import annotations

import logging
import os
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playground.core import activity as act
from playground.core.config import ENCODER_DECODER, ModelConfig, configure, param_count, training_defaults

Found = tuple[bool, str]  # (done, what was found / what is missing)
log = logging.getLogger(__name__)

# The Train form's fields (gui/tabs/train_form.py): a setup's training settings use these keys.
TRAIN_KEYS = ("iters", "batch_size", "lr", "warmup", "eval_interval", "seed")


# ───────────────────────────────────────────────────────────────────────────── setups


@dataclass(frozen=True)
class Setup:
    """What one click prepares: a corpus, a tokenizer, a model and its training settings.

    ``preset`` None: no model (a tokenizer-only mission). ``model``: ModelConfig fields over the
    preset (``{"positional": "none"}``). ``train``: Train form fields over the size's defaults
    (``config.training_defaults``, the rule the Train tab itself follows). ``corpus_chars``:
    only the start of the corpus, written once to a small text file (a text too small for the
    model, on purpose)."""

    label: str
    corpus: str  # "builtin:NAME"
    tokenizer: str = "char"
    vocab_size: int | None = None  # BPE's size or the word tokenizer's cap; None: the tab's
    preset: str | None = "tiny"
    model: dict = field(default_factory=dict)
    train: dict = field(default_factory=dict)
    corpus_chars: int | None = None
    run_name: str | None = None

    def small_text_name(self) -> str | None:
        if self.corpus_chars is None:
            return None
        return f"{self.corpus.split(':', 1)[-1]}-first-{self.corpus_chars}.txt"

    def model_config(self, vocab_size: int) -> ModelConfig | None:
        if self.preset is None:
            return None
        return configure(self.preset, vocab_size, **self.model)

    def train_values(self, vocab_size: int) -> dict[str, Any]:
        """The Train form's values: the size's defaults, then this setup's settings."""
        cfg = self.model_config(vocab_size)
        if cfg is None:
            return {}
        values, _why = training_defaults(cfg)
        values = {k: v for k, v in values.items() if k in TRAIN_KEYS}
        values.update(self.train)
        return values

    def matches(self, run: RunFacts) -> bool:
        """``run`` was trained with this setup's corpus, tokenizer and model shape."""
        if self.preset is None:
            return False
        small = self.small_text_name()
        if small is not None:
            if Path(run.corpus).name != small:
                return False
        elif run.corpus != self.corpus:
            return False
        if run.tokenizer != self.tokenizer or (self.tokenizer != "char" and self.vocab_size
                                               and run.vocab_size > self.vocab_size):
            return False
        want = self.model_config(run.vocab_size)
        return all(getattr(want, k) == run.model.get(k) for k in
                   ("arch", "n_layer", "n_head", "d_model", "context_length", "positional"))

    def find(self, facts: Facts) -> RunFacts | None:
        """The newest trained run made with this setup (the student need not train it twice)."""
        found = [r for r in facts.runs if r.trained and self.matches(r)]
        return max(found, key=lambda r: r.updated) if found else None


def prepare_corpus(setup: Setup) -> str:
    """The corpus spec to load for ``setup``: a built-in, or the small text file made from its
    start (written once, under the data folder)."""
    name = setup.small_text_name()
    if name is None:
        return setup.corpus
    from playground import paths
    from playground.core import atomic, builtin_corpora

    path = paths.data_dir() / "missions" / name
    if not path.exists():
        text = builtin_corpora.builtin_text(setup.corpus.split(":", 1)[1])[: setup.corpus_chars]
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic.write_text(path, text)
    return str(path)


# ───────────────────────────────────────────────────────────────────────────── facts


@dataclass
class RunFacts:
    """What a check may know about one run: its run.json and its evaluations."""

    name: str
    path: str
    corpus: str  # the corpus source: "builtin:NAME" or a path
    corpus_sha: str
    tokenizer: str
    vocab_size: int
    model: dict
    step: int
    iters: int
    best_val: float | None
    updated: float = 0.0
    evals: list[tuple[int, float, float]] = field(default_factory=list)  # (it, train, val)
    # Mission 4: the first-layer previous-token heads and the later-layer induction heads found
    # on validation excerpts ([(layer, head)], 0-based); None: not measured.
    heads: dict[str, list[tuple[int, int]]] | None = None
    # Mission 9: the share of validation sentences an encoder-decoder translates exactly; None: not measured.
    translated: float | None = None

    @property
    def arch(self) -> str:
        return self.model.get("arch", "gpt")

    @property
    def trained(self) -> bool:
        """At least one training step and one validation loss."""
        return self.step > 0 and self.best_val is not None

    def params(self) -> int:
        try:
            return param_count(ModelConfig.from_dict(self.model))
        except Exception:  # noqa: BLE001 - a run of a newer app: size unknown
            return 0

    def overfit_at(self) -> int | None:
        """The first step at which the Train tab's overfitting note appeared (analysis.overfitting
        on the evaluations so far), or None."""
        from playground.core.analysis import overfitting

        for k in range(1, len(self.evals) + 1):
            if overfitting(self.evals[:k]):
                return self.evals[k - 1][0]
        return None


@dataclass
class Facts:
    runs: list[RunFacts]
    activity: list[dict]

    def trained(self, **model: Any) -> list[RunFacts]:
        return [r for r in self.runs if r.trained and all(r.model.get(k, "gpt" if k == "arch" else None) == v
                                                          for k, v in model.items())]

    def did(self, kind: str, **match: Any) -> list[dict]:
        return act.of_kind(self.activity, kind, **match)


def run_facts(path: str | os.PathLike) -> RunFacts:
    """One run folder's facts (run.json and metrics.csv; no weights are read)."""
    from playground.core.checkpoint import Run

    run = Run(path)
    info = run.info
    corpus, tok = info.get("corpus") or {}, info.get("tokenizer") or {}
    updated = info.get("updated")
    return RunFacts(
        name=run.name, path=str(run.path), corpus=str(corpus.get("source", "")),
        corpus_sha=str(corpus.get("sha256", "")), tokenizer=str(tok.get("kind", "")),
        vocab_size=int(tok.get("vocab_size") or 0), model=dict(info.get("model") or {}),
        step=run.step, iters=int((info.get("train") or {}).get("iters") or 0),
        best_val=info.get("best_val_loss"),
        updated=float(updated) if isinstance(updated, (int, float)) else 0.0,
        evals=[e for e in run.evals() if None not in e])


_heads_cache: dict[tuple[str, int, float], dict] = {}


def copy_heads(run_path: str | os.PathLike, excerpts: int = 5, seed: int = 0) -> dict[str, list[tuple[int, int]]]:
    """The heads of a run's newest checkpoint labelled as the Attention tab labels them, on
    ``excerpts`` random validation excerpts picked as its "Random validation excerpt" picks
    them: a first-layer head labelled previous-token, a later-layer head labelled induction,
    on most of the excerpts. Needs torch (a worker in the app)."""
    from playground.core import attention_views as av
    from playground.core.checkpoint import Run

    run = Run(run_path)
    steps = av.checkpoint_steps(run)
    if not steps or run.model_config.arch != "gpt":
        return {"previous-token": [], "induction": []}
    step = steps[-1]
    key = (str(run.path), step if step is not None else -1, (run.path / Run.RUN_JSON).stat().st_mtime)
    if key in _heads_cache:
        return _heads_cache[key]
    tok = run.tokenizer
    val_text = av.validation_text(run.path)
    rng = random.Random(seed)
    counts: dict[tuple[str, int, int], int] = {}
    for _ in range(excerpts):
        text = av.pick_excerpt(val_text, tok, min(run.model_config.context_length, av.EXCERPT_TOKENS), rng)
        cap = av.compute(run.path, step, tok.encode(text), av.Want(attention=True)).capture
        for layer, labels in enumerate(cap.head_labels):
            for head, (label, _score) in enumerate(labels):
                if (label == "previous-token" and layer == 0) or (label == "induction" and layer > 0):
                    counts[label, layer, head] = counts.get((label, layer, head), 0) + 1
    found: dict[str, list[tuple[int, int]]] = {"previous-token": [], "induction": []}
    for (label, layer, head), n in sorted(counts.items()):
        if n * 2 > excerpts:
            found[label].append((layer, head))
    _heads_cache[key] = found
    return found


TRANSLATION_SAMPLE = 40  # validation sentences translated for mission 9's check
_translated_cache: dict[tuple[str, float], float] = {}


def translation_score(run_path: str | os.PathLike, n: int = TRANSLATION_SAMPLE) -> float:
    """The share of the first ``n`` validation pairs that the run's newest weights translate exactly
    (greedy, as the Generate tab translates). Needs torch (a worker in the app)."""
    from playground.core import pairs, translate
    from playground.core.checkpoint import Run
    from playground.core.corpus import verify_record

    run = Run(run_path)
    key = (str(run.path), (run.path / Run.RUN_JSON).stat().st_mtime)
    if key not in _translated_cache:
        text = verify_record(run.corpus_record).text
        chosen = pairs.validation_pairs(text, float(run.corpus_record.get("split") or 0.9))[:n]
        model = run.load_model()
        _translated_cache[key] = translate.exact_match(model, run.tokenizer, chosen) if chosen else 0.0
    return _translated_cache[key]


def gather(runs: Sequence[str | os.PathLike] | None = None, activity: list[dict] | None = None,
           *, heads: bool = False) -> Facts:
    """The facts every check reads: the runs (None: every run in the runs folder) and the
    recorded activity (None: the settings'). ``heads``: measure what needs the weights (torch): the
    copy heads of Copy-lessons runs, the translations of encoder-decoder runs."""
    from playground.core import checkpoint
    from playground.errors import PlaygroundError

    paths = [r.path for r in checkpoint.list_runs()] if runs is None else list(runs)
    found = []
    for path in paths:
        try:
            facts = run_facts(path)
        except (OSError, ValueError, PlaygroundError):
            continue  # a damaged or half-deleted run: the Train tab says so; not evidence here
        # A run whose weights cannot be measured (deleted meanwhile, damaged, from a newer app) is
        # "not measured": the step says what is missing instead of the whole check failing.
        if heads and facts.trained and facts.arch == "gpt" and COPY_SETUP.matches(facts):
            try:
                facts.heads = copy_heads(path)
            except Exception:  # noqa: BLE001
                log.warning("could not find the heads of %s", path, exc_info=True)
        if heads and facts.trained and facts.arch == ENCODER_DECODER:
            try:
                facts.translated = translation_score(path)
            except Exception:  # noqa: BLE001
                log.warning("could not translate with %s", path, exc_info=True)
        found.append(facts)
    return Facts(found, act.entries() if activity is None else list(activity))


# ───────────────────────────────────────────────────────────────────────────── missions


@dataclass(frozen=True)
class Step:
    text: str
    target: str | None = None  # objectName of the control to highlight (gui/lessons.py TARGETS)
    setups: tuple[Setup, ...] = ()
    check: Callable[[Facts], Found] | None = None


@dataclass
class Result:
    passed: bool
    steps: list[bool | None]  # per step: done, not yet, or None (nothing to check)
    missing: list[str]
    evidence: list[str]


@dataclass(frozen=True)
class Mission:
    id: str
    number: int
    title: str
    goal: str
    steps: tuple[Step, ...]
    question: str
    needs_heads: bool = False  # gather(heads=True) before checking

    @property
    def setups(self) -> list[Setup]:
        return [s for step in self.steps for s in step.setups]

    def check(self, facts: Facts) -> Result:
        states: list[bool | None] = []
        missing, evidence = [], []
        for step in self.steps:
            if step.check is None:
                states.append(None)
                continue
            done, words = step.check(facts)
            states.append(done)
            (evidence if done else missing).append(words)
        return Result(all(s is not False for s in states), states, missing, evidence)


def _loss(r: RunFacts) -> str:
    return f"'{r.name}' (validation loss {r.best_val:.3f})"


def _did(kind: str, done: str, missing: str, **match: Any) -> Callable[[Facts], Found]:
    def check(facts: Facts) -> Found:
        return (True, done) if facts.did(kind, **match) else (False, missing)
    return check


# The runs the missions share: Grammar lessons with characters and the Tiny model is the text of
# missions 2, 3, 5, 6 and 8, so the student trains it once.
GRAMMAR = "builtin:grammar-lessons"
TINY_GRAMMAR = Setup("Tiny GPT on Grammar lessons (characters)", GRAMMAR, run_name="tiny-grammar")
BIGRAM_GRAMMAR = Setup("Bigram on Grammar lessons (characters)", GRAMMAR, preset="bigram",
                       run_name="bigram-grammar")
WORD_GRAMMAR = Setup("Tiny GPT on Grammar lessons (words)", GRAMMAR, tokenizer="word",
                     run_name="tiny-grammar-words")
NONE_GRAMMAR = Setup("Tiny GPT without positions", GRAMMAR, model={"positional": "none"},
                     run_name="tiny-grammar-no-positions")
SINE_GRAMMAR = Setup("Tiny GPT with sinusoidal positions", GRAMMAR, model={"positional": "sinusoidal"},
                     run_name="tiny-grammar-sinusoidal")
COPY_SETUP = Setup("Tiny GPT on Copy lessons", "builtin:copy-lessons", run_name="tiny-copy")
BPE_SETUP = Setup("Python docs with a 512-token BPE", "builtin:python-docs", tokenizer="bpe",
                  vocab_size=512, preset=None)
# A text far too small for the model: 4,000 characters for 800,000 parameters. Measured: validation
# loss bottoms out at step 200 and the overfitting note appears at step 350 of 600 (seed 1337; 6,000
# characters only fired at 550). benchmarks/missions_time.py times it.
SMALL_TEXT = Setup("Small GPT on 4,000 characters of Python docs", "builtin:python-docs", preset="small",
                   corpus_chars=4000, train={"iters": 600, "eval_interval": 50}, run_name="small-on-little")


# -- 1 · Tokens

def _tokens_steps() -> tuple[Step, ...]:
    return (
        Step("Load the text and train a BPE tokenizer on it: on the Tokenizer tab, choose BPE and "
             "press 'Train on corpus'.", "tokenizer.train_bpe", (BPE_SETUP,),
             _did(act.BPE_TRAINED, "You trained a BPE tokenizer.", "Train a BPE tokenizer (Tokenizer tab).")),
        Step("Under 'Compare tokenizers', read the vocabulary size and the tokens per character of "
             "characters and of BPE for the same text.", "tokenizer.compare"),
        Step("Open 'BPE merges, step by step' and press Play: watch the pieces grow into words.",
             "tokenizer.merges",
             check=_did(act.MERGES_PLAYER, "You opened the merges player.",
                        "Open 'BPE merges, step by step' on the Tokenizer tab.")),
    )


# -- 2 · Beat the bigram

def _bigram_pairs(facts: Facts) -> list[tuple[RunFacts, RunFacts]]:
    """(bigram, GPT) trained on the same text with the same kind of tokenizer."""
    return [(b, g) for b in facts.trained(arch="bigram") for g in facts.trained(arch="gpt")
            if b.corpus_sha == g.corpus_sha and b.tokenizer == g.tokenizer]


def _bigram_trained(facts: Facts) -> Found:
    runs = facts.trained(arch="bigram")
    if runs:
        return True, f"Bigram run {_loss(runs[0])}."
    return False, "Train a bigram (Model tab: Bigram; then Start on the Train tab)."


def _gpt_beside_bigram(facts: Facts) -> Found:
    pairs = _bigram_pairs(facts)
    if pairs:
        return True, f"GPT run {_loss(pairs[0][1])} on the bigram's text."
    return False, "Train a GPT (Tiny) on the same text with the same tokenizer as the bigram."


def _gpt_beats_bigram(facts: Facts) -> Found:
    pairs = _bigram_pairs(facts)
    if not pairs:
        return False, "A bigram and a GPT on the same text are needed to compare."
    b, g = min(pairs, key=lambda p: p[1].best_val - p[0].best_val)
    if g.best_val < b.best_val:
        return True, f"The GPT {_loss(g)} beats the bigram {_loss(b)}."
    return False, (f"The GPT {_loss(g)} is not below the bigram {_loss(b)} yet: train it longer.")


def _overlaid(facts: Facts, names: set[str], bits: bool = False) -> bool:
    return any(names <= set(e.get("runs") or []) and (not bits or e.get("bits_per_char"))
               for e in facts.did(act.RUNS_OVERLAID))


def _bigram_overlaid(facts: Facts) -> Found:
    """The curves of a bigram and of a GPT that beats it, on one plot."""
    for b, g in _bigram_pairs(facts):
        if g.best_val < b.best_val and _overlaid(facts, {b.name, g.name}):
            return True, f"You overlaid '{b.name}' and '{g.name}'."
    return False, ("Tick the bigram's run and the run of the GPT that beats it in the Train tab's list to "
                   "overlay their curves.")


# -- 3 · Letters vs words

def _char_word_pairs(facts: Facts) -> list[tuple[RunFacts, RunFacts]]:
    return [(c, w) for c in facts.trained() if c.tokenizer == "char"
            for w in facts.trained() if w.tokenizer == "word" and w.corpus_sha == c.corpus_sha]


def _char_run(facts: Facts) -> Found:
    runs = [r for r in facts.trained() if r.tokenizer == "char"]
    if runs:
        return True, f"Character run {_loss(runs[0])}."
    return False, "Train a model with the character tokenizer."


def _word_run(facts: Facts) -> Found:
    pairs = _char_word_pairs(facts)
    if pairs:
        return True, f"Word run {_loss(pairs[0][1])} on the same text as '{pairs[0][0].name}'."
    return False, "Train a model with the word tokenizer on the same text as a character run."


def _char_word_compared(facts: Facts) -> Found:
    for c, w in _char_word_pairs(facts):
        names = {c.name, w.name}
        if _overlaid(facts, names, bits=True) or any(names <= set(e.get("runs") or [])
                                                     for e in facts.did(act.RUNS_COMPARED)):
            return True, f"You compared '{c.name}' and '{w.name}' per character."
    return False, ("Overlay the character run and the word run on the Train tab and switch the plot to "
                   "bits per character (or compare them on the Generate tab's 'Compare two models').")


# -- 4 · Heads that copy

def _copy_runs(facts: Facts) -> list[RunFacts]:
    return [r for r in facts.trained() if COPY_SETUP.matches(r)]


def _copy_trained(facts: Facts) -> Found:
    runs = _copy_runs(facts)
    if runs:
        return True, f"Copy-lessons run {_loss(runs[0])}."
    return False, "Train the Tiny model on Copy lessons (use the setup button)."


def _heads_found(kind: str, where: str) -> Callable[[Facts], Found]:
    def check(facts: Facts) -> Found:
        for r in _copy_runs(facts):
            if r.heads and r.heads.get(kind):
                layer, head = r.heads[kind][0]
                return True, f"'{r.name}' has a {kind} head: layer {layer + 1}, head {head + 1}."
        if any(r.heads is not None for r in _copy_runs(facts)):
            return False, (f"No {kind} head {where} yet: train longer (the default 2,000 steps grow one).")
        return False, f"A trained Copy-lessons run is needed to find its {kind} head."
    return check


def _induction_off(facts: Facts) -> Found:
    for r in _copy_runs(facts):
        wanted = {f"layer {layer + 1} head {head + 1}" for layer, head in (r.heads or {}).get("induction", [])}
        for e in facts.did(act.ABLATION, run=r.name):
            if wanted & set(e.get("heads") or []):
                return True, f"You switched the induction head off in '{r.name}'."
    return False, "Switch the induction head off ('Switch off' view of the Attention tab) and watch the copy."


# -- 5 · Where am I?

def _three_positions(facts: Facts) -> Found:
    by_text: dict[str, dict[str, RunFacts]] = {}
    for r in facts.trained(arch="gpt"):
        by_text.setdefault(r.corpus_sha, {})[r.model.get("positional", "learned")] = r
    for found in by_text.values():
        if {"none", "learned", "sinusoidal"} <= set(found):
            return True, "Three runs on one text: " + ", ".join(
                f"{k} {_loss(found[k])}" for k in ("none", "learned", "sinusoidal")) + "."
    if facts.did(act.POSITIONS_COMPARED):
        return True, "'Compare positions…' trained none, learned and sinusoidal on your text."
    return False, ("Train none, learned and sinusoidal positions on one text (the three setups), or let "
                   "'Compare positions…' on the Model tab train all three.")


def _shuffle_scored(facts: Facts) -> Found:
    done = [e for e in facts.did(act.POSITIONS_COMPARED) if e.get("p_last")]
    if done:
        return True, f"The shuffled sentence was scored ({done[-1].get('corpus', 'your text')})."
    return False, "Run 'Compare positions…' on the Model tab: it scores a sentence and its shuffle."


# -- 6 · Temperature

def _trained_gpt(facts: Facts) -> Found:
    runs = facts.trained(arch="gpt")
    if runs:
        return True, f"A trained model to write with: '{runs[0].name}'."
    return False, "Train a GPT first (the setup button trains the Tiny model on Grammar lessons)."


def _step_temperatures(facts: Facts) -> Found:
    temps = {e.get("temperature") for e in facts.did(act.GENERATED, step_mode=True) if not e.get("greedy")}
    if len(temps) >= 2:
        return True, f"Step mode at temperatures {', '.join(f'{t:g}' for t in sorted(temps))}."
    return False, "Use 'Next token ▸' (step mode) at two different temperatures."


def _top_k(facts: Facts) -> Found:
    used = [e for e in facts.did(act.GENERATED) if e.get("top_k")]
    if used:
        return True, f"You generated with top-k {used[-1]['top_k']}."
    return False, "Generate once with top-k set (e.g. 5)."


# -- 7 · Too big for the text

def _small_text_run(facts: Facts) -> Found:
    runs = [r for r in facts.trained() if SMALL_TEXT.matches(r)]
    if runs:
        return True, f"Run {_loss(runs[0])} on the small text."
    return False, "Train the Small model on the small text (use the setup button)."


def _overfit_runs(facts: Facts) -> list[tuple[RunFacts, int]]:
    return [(r, at) for r in facts.trained() for at in [r.overfit_at()] if at is not None]


def _overfit_fired(facts: Facts) -> Found:
    found = _overfit_runs(facts)
    if found:
        r, at = found[0]
        return True, f"The overfitting note fired for '{r.name}' at step {at}."
    return False, "Train until the Train tab says the model memorises (validation loss rising)."


def _scored_train_val(facts: Facts) -> Found:
    names = {r.name for r, _at in _overfit_runs(facts)}
    for e in facts.did(act.SCORED, train_vs_val=True):
        if e.get("run") in names:
            return True, (f"Scored a training line ({e.get('train_loss', float('nan')):.3f}) and a validation "
                          f"line ({e.get('val_loss', float('nan')):.3f}) with '{e['run']}'.")
    return False, "On the Generate tab's 'Score a text', press 'Train vs validation' with the memorising run."


# -- 8 · Inside one prediction (uses _trained_gpt)


# -- 9 · Say it in robot language (the encoder-decoder of issue 16)

ROBOT_SETUP = Setup("Tiny encoder–decoder on Robot language", "builtin:robot-language",
                    model={"arch": ENCODER_DECODER}, run_name="tiny-robot")
TRANSLATED_ENOUGH = 0.5  # half the validation sentences exactly right: it has learned the rules


def _robot_trained(facts: Facts) -> Found:
    runs = [r for r in facts.trained(arch=ENCODER_DECODER)]
    if runs:
        return True, f"Encoder–decoder run {_loss(runs[0])}."
    return False, "Train the encoder–decoder on Robot language (use the setup button)."


def _robot_translates(facts: Facts) -> Found:
    measured = [r for r in facts.trained(arch=ENCODER_DECODER) if r.translated is not None]
    if not measured:
        return False, "A trained encoder–decoder is needed to try its translations."
    best = max(measured, key=lambda r: r.translated)
    share = f"{best.translated:.0%} of {TRANSLATION_SAMPLE} validation sentences exactly right"
    if best.translated >= TRANSLATED_ENOUGH:
        return True, f"'{best.name}' translates {share}."
    return False, f"'{best.name}' translates {share}: train it longer (at least {TRANSLATED_ENOUGH:.0%})."


MISSIONS: list[Mission] = [
    Mission("tokens", 1, "Tokens",
            "See one text cut into characters and into BPE tokens: the vocabulary size, and how many "
            "characters one token holds.",
            _tokens_steps(),
            "How many characters does a BPE token hold on average here, and what did the first merges "
            "glue together? What does that mean for how much text fits in the model's context?"),
    Mission("beat-bigram", 2, "Beat the bigram",
            "Train a bigram, then a Tiny GPT on the same text, and see the GPT predict better.",
            (Step("Set up the bigram and press Start on the Train tab.", "train.start", (BIGRAM_GRAMMAR,),
                  _bigram_trained),
             Step("Set up the Tiny GPT on the same text and press Start.", "train.start", (TINY_GRAMMAR,),
                  _gpt_beside_bigram),
             Step("Compare their validation losses: the GPT's must be lower.", "train.plot",
                  check=_gpt_beats_bigram),
             Step("Tick both runs in the list of runs: their curves share one plot.", "train.runs",
                  check=_bigram_overlaid)),
            "What can the GPT see that the bigram cannot? Where in the curves does the difference appear?"),
    Mission("letters-words", 3, "Letters vs words",
            "Train the same text with characters and with words, and compare them fairly: in bits per "
            "character, not per token.",
            (Step("Train the Tiny GPT with characters.", "train.start", (TINY_GRAMMAR,), _char_run),
             Step("Train it again with the word tokenizer.", "train.start", (WORD_GRAMMAR,), _word_run),
             Step("Tick both runs and switch the plot to 'bits per character'.", "train.units",
                  check=_char_word_compared)),
            "Per token the word model's loss is higher. Per character, which one is better, and why does "
            "the unit matter?"),
    Mission("copy-heads", 4, "Heads that copy",
            "Find the previous-token head and the induction head in your own model, then switch the "
            "induction head off and watch copying fail.",
            (Step("Train the Tiny model on Copy lessons (2,000 steps).", "train.start", (COPY_SETUP,),
                  _copy_trained),
             Step("On the Attention tab, find a first-layer head with a bright line just below the "
                  "diagonal: the previous-token head ('Head labels' lists them).", "attention.labels",
                  check=_heads_found("previous-token", "in the first layer")),
             Step("Find a second-layer head that looks at the letter after the earlier copy: the "
                  "induction head.", "attention.labels", check=_heads_found("induction", "in a later layer")),
             Step("Tick the induction head in 'Switch off': the copies' letters lose their probability.",
                  "attention.switch_off", check=_induction_off)),
            "With the induction head off, which letters does the model still predict well, and which "
            "not? Why?",
            needs_heads=True),
    Mission("positions", 5, "Where am I?",
            "Train without positions, with learned and with sinusoidal positions, and see why a model "
            "needs to know where each token is.",
            (Step("Train the three: none, learned and sinusoidal positions.", "train.start",
                  (NONE_GRAMMAR, TINY_GRAMMAR, SINE_GRAMMAR), _three_positions),
             Step("On the Model tab press 'Compare positions…': a sentence and its shuffle are scored.",
                  "model.positions", check=_shuffle_scored)),
            "Why does the order-blind model give the shuffled sentence's last word the same probability? "
            "Which positions did better on your text?"),
    Mission("temperature", 6, "Temperature",
            "Write token by token at two temperatures and with top-k, and choose a token yourself.",
            (Step("A trained model: the Tiny GPT on Grammar lessons.", "train.start", (TINY_GRAMMAR,),
                  _trained_gpt),
             Step("On the Generate tab, set a temperature and press 'Next token ▸' a few times; then "
                  "another temperature.", "generate.next", check=_step_temperatures),
             Step("Set top-k (e.g. 5) and generate again.", "generate.top_k", check=_top_k),
             Step("In step mode, click a bar of the chart to write that token instead.", "generate.chart",
                  check=_did(act.PICKED_TOKEN, "You picked a token by hand.",
                             "Click a bar of the chart in step mode to choose the next token."))),
            "What happens to the bars when the temperature goes up? What does top-k cut away?"),
    Mission("too-big", 7, "Too big for the text",
            "Train a large model on a small text and catch it memorising instead of learning.",
            (Step("Train the Small model on only 4,000 characters.", "train.start", (SMALL_TEXT,),
                  _small_text_run),
             Step("Watch the curves: validation loss turns up while training loss keeps falling, and the "
                  "Train tab says the model memorises.", "train.plot", check=_overfit_fired),
             Step("On the Generate tab's 'Score a text', press 'Train vs validation'.", "generate.train_vs_val",
                  check=_scored_train_val)),
            "Which line is less surprising to the model, and why? What would you change to stop it "
            "memorising?"),
    Mission("one-prediction", 8, "Inside one prediction",
            "Follow one token through the whole model: what each layer would predict, and the loss of "
            "the real next token.",
            (Step("A trained model: the Tiny GPT on Grammar lessons.", "train.start", (TINY_GRAMMAR,),
                  _trained_gpt),
             Step("Attention tab → 'Logit lens': click a token and read what each layer would predict.",
                  "attention.lens", check=_did(act.LOGIT_LENS, "You opened the logit lens.",
                                               "Open the Attention tab's 'Logit lens'.")),
             Step("Attention tab → 'The math': scroll to step 17, the loss of this token.", "attention.math",
                  check=_did(act.LOSS_STEP, "You opened the loss step.",
                             "Scroll 'The math' down to step 17, the loss."))),
            "At which layer does the real next token first come out on top? What is −log p of it, and how "
            "does that relate to the loss on the Train tab?"),
    Mission("robot-language", 9, "Say it in robot language",
            "Train the original transformer: an encoder reads an English sentence, a decoder writes it in "
            "robot language while looking back at it through cross-attention.",
            (Step("Train the Tiny encoder–decoder on Robot language.", "train.start", (ROBOT_SETUP,),
                  _robot_trained),
             Step("Check that it translates sentences it never saw (the check tries the validation "
                  "sentences).", "train.plot", check=_robot_translates),
             Step("On the Generate tab, translate a sentence of your own; on the Attention tab, watch "
                  "the cross-attention: each robot word looks at the English word it came from.",
                  "attention.grid")),
            "Robot language puts the verb last. Where does the cross-attention look while the decoder "
            "writes the verb, and why is that easier for an encoder–decoder than for a GPT?",
            needs_heads=True),
]

BY_ID = {m.id: m for m in MISSIONS}
assert [m.number for m in MISSIONS] == list(range(1, len(MISSIONS) + 1))


# ───────────────────────────────────────────────────────────────────────────── report


def started(progress: dict, answers: dict, mission: Mission) -> bool:
    entry = progress.get(mission.id) or {}
    return bool(entry.get("started") or entry.get("passed") or (answers.get(mission.id) or "").strip())


def mission_report(progress: dict | None = None, *, answers: dict | None = None,
                   activity: list[dict] | None = None, runs: Sequence[str | os.PathLike] | None = None,
                   heads: bool = True) -> list[dict]:
    """One dict per mission the student started, in order, with its check evaluated now (for the
    lab report): id, number, title, goal, question, answer, passed, missing, evidence."""
    if progress is None or answers is None:
        from playground import settings

        values = settings.load()
        progress = values["mission_progress"] if progress is None else progress
        answers = values["mission_answers"] if answers is None else answers
    chosen = [m for m in MISSIONS if started(progress, answers, m)]
    if not chosen:
        return []
    facts = gather(runs, activity, heads=heads and any(m.needs_heads for m in chosen))
    rows = []
    for m in chosen:
        result = m.check(facts)
        rows.append({"id": m.id, "number": m.number, "title": m.title, "goal": m.goal,
                     "question": m.question, "answer": answers.get(m.id, ""), "passed": result.passed,
                     "missing": result.missing, "evidence": result.evidence})
    return rows
