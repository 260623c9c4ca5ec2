"""The Attention tab's bookkeeping, apart from its widgets: what a view still lacks (the worker's
``Want``), where a job's answer is kept, and what an added view is told.

No drawing here, and no Qt: the tab calls these on its GUI thread.
"""

from __future__ import annotations

from dataclasses import dataclass

from playground.core import attention_views as av


@dataclass(frozen=True)
class ViewContext:
    """What the student is looking at, as a view added with ``AttentionTab.add_view`` is told it.

    ``step`` None means the run's newest weights (``latest.pt``); ``query`` None means the last
    token. Load the model with ``core.model_cache.MODELS.get(run_path, step)`` in a worker."""

    run_path: str
    step: int | None
    ids: tuple[int, ...]
    labels: tuple[str, ...]
    arch: str  # "gpt" or "bigram" (a bigram has no heads, blocks or positions)
    layer: int
    head: int
    query: int | None
    head_labels: tuple | None  # [layer][head] -> (pattern, score) as the tab labels them; None until captured


def needs(view: str, key: tuple, cap: av.Capture | None, arch: str, layer: int, head: int,
          embed_missing: bool, frequency_missing: bool) -> av.Want | None:
    """What ``view`` lacks for ``key`` = (run path, step, ids); None when it has everything.

    ``embed_missing``/``frequency_missing``: the tab has no embeddings for (run, step) / no
    frequency order for the run (only asked for a vocabulary too big to label fully)."""
    gpt = arch == "gpt"
    embed = view == "Embeddings" and embed_missing
    want = av.Want(
        attention=gpt and cap is None,
        math_head=(layer, head) if gpt and view == "The math" and (cap is None or (layer, head) not in cap.math)
        else None,
        forward_layer=layer if gpt and view == "The math" and (cap is None or layer not in cap.forward) else None,
        lens=gpt and view == "Logit lens" and (cap is None or cap.lens is None),
        embed=embed,
        frequency=embed and frequency_missing)
    return want if want else None


def store(captures: av.CaptureCache, key: tuple, want: av.Want, views: av.Views) -> None:
    """Keep a job's capture, head math, forward steps and lens with the capture of ``key``."""
    if views.capture is not None:
        captures.put(key, views.capture)
    cap = captures.get(key)
    if cap is None:  # dropped meanwhile (the cache is bounded): the next request computes it again
        return
    if views.math is not None:
        cap.math[want.math_head] = views.math
    if views.forward is not None:
        cap.forward[want.forward_layer] = views.forward
    if views.lens is not None:
        cap.lens = views.lens
    captures.put(key, cap)  # re-weighed: the steps added bytes


def math_ready(cap: av.Capture, layer: int, head: int) -> bool:
    """Everything "The math" draws for this head and its block is there."""
    return (layer, head) in cap.math and layer in cap.forward
