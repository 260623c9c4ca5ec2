"""The Generate tab's worker jobs (no widgets here: each runs on a worker thread).

Inputs are a run's folder and step, or a model already loaded (``LoadedModel``, frozen), and
plain lists and configs: nothing the GUI thread changes meanwhile. torch is imported inside
the jobs: the window imports this module at start-up.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from playground.core.generation_session import excerpt_at, suggest_prompt
from playground.core.model_cache import MODELS, LoadedModel


class OneThread:
    """Run a small model's token-by-token work on one CPU thread (within a ``with`` block).

    One new token is a few tiny matrix products: splitting them over OpenMP threads gains
    nothing, and on a busy machine every split waits for a descheduled helper thread.
    Measured here (2 shared cores, load ~8): the Small model wrote 8-12 tokens/s with two
    threads in one thread of the app and ~150 with one. OpenMP's thread count is per calling
    thread, so the GUI thread keeps its own (MKL's, which torch sets too, is process-wide for
    the moment); the old value is restored at the end.
    """

    MAX_WIDTH = 384  # up to the Medium preset; wider models keep every thread

    def __init__(self, model) -> None:
        self.active = getattr(getattr(model, "config", None), "d_model", 0) <= self.MAX_WIDTH

    def __enter__(self):
        if self.active:
            import torch

            self.before = torch.get_num_threads()
            torch.set_num_threads(1)
        return self

    def __exit__(self, *exc) -> None:
        if self.active:
            import torch

            torch.set_num_threads(self.before)


def load_job(run_path: str, step: int | None) -> Callable:
    def job(progress, cancel) -> LoadedModel:
        return MODELS.get(run_path, step)

    return job


def _steps(loaded: LoadedModel, ids: list[int], cfg, capture: bool, forced: dict | None, cancel) -> Iterator:
    from playground.core.generate import stream_tokens

    with OneThread(loaded.model):
        for step in stream_tokens(loaded.model, loaded.tokenizer, ids, cfg, forced=forced, stop=cancel,
                                  capture_attention=capture):
            if step.attention is not None:
                step.attention = step.attention.half()  # half the memory for long texts
            yield step


def stream_job(loaded: LoadedModel, ids: list[int], cfg, capture: bool) -> Callable:
    """Stream every TokenStep through ``progress.item``; the GUI receives them in batches."""

    def job(progress, cancel) -> dict:
        started = time.perf_counter()
        n = 0
        for step in _steps(loaded, ids, cfg, capture, None, cancel):
            progress.item(step)
            n += 1
        return {"tokens": n, "seconds": time.perf_counter() - started}

    return job


def steps_job(loaded: LoadedModel, ids: list[int], cfg, capture: bool, forced: dict | None) -> Callable:
    """A few steps at once (step mode): returns the list of TokenSteps."""

    def job(progress, cancel) -> list:
        return list(_steps(loaded, ids, cfg, capture, forced, cancel))

    return job


def score_job(loaded: LoadedModel, texts: list[str], record: dict | None, split: float) -> Callable:
    """Score ``texts``; with a corpus ``record``, a training and a validation excerpt instead."""

    def job(progress, cancel) -> list:
        from playground.core.generate import score_text

        chosen = texts
        if record is not None:
            from playground.core.corpus import verify_record

            corpus = verify_record(record)
            train_text, val_text = corpus.split(split)
            # Both from the start of a line: the middle of the training text, the validation
            # text's first full line.
            chosen = [excerpt_at(train_text, len(train_text) // 2), excerpt_at(val_text, 1)]
        return [(text, score_text(loaded.model, loaded.tokenizer, text)) for text in chosen]

    return job


def prompt_job(tokenizer, record: dict | None, split: float) -> Callable:
    """A first prompt the run's model can read, from the run's corpus when it is still there."""

    def job(progress, cancel) -> str:
        from playground.core.corpus import verify_record
        from playground.errors import PlaygroundError

        training = validation = ""
        if record:
            try:
                training, validation = verify_record(record).split(split)
            except (PlaygroundError, OSError):
                pass  # pasted, moved or changed: the tokenizer alone suggests one
        return suggest_prompt(tokenizer, validation, training)

    return job


def compare_job(sides: dict[str, tuple[LoadedModel, list[int]]], cfg) -> Callable:
    """Generate on both sides in turns, so both texts grow together: items are (side, TokenStep)."""

    def job(progress, cancel) -> bool:
        from playground.core.generate import stream_tokens

        gens = {name: stream_tokens(loaded.model, loaded.tokenizer, ids, cfg, stop=cancel)
                for name, (loaded, ids) in sides.items()}
        with OneThread(sides["a"][0].model), OneThread(sides["b"][0].model):
            while gens:
                for name in list(gens):
                    try:
                        step = next(gens[name])
                    except StopIteration:
                        del gens[name]
                        continue
                    progress.item((name, step))
        return True

    return job
