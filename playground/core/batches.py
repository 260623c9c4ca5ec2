"""Where a training step's batches come from.

The trainer asks ``data.batch(split, gen)`` for a tuple of tensors and calls ``model(*batch)``;
each kind of model brings its own source. ``TokenBatches`` is the decoder-only one: windows of
T + 1 tokens cut from one token sequence, validation being its end, as in nanoGPT. The ids are
usually ranges of the memory-mapped token file (core/token_cache.py): a batch reads only its windows.
"""
from __future__ import annotations

import numpy as np
import torch


class TokenBatches:
    """Random windows of ``context`` + 1 tokens from the training or validation ids."""

    def __init__(self, train_ids, val_ids, context: int, batch_size: int, device: torch.device) -> None:
        # 1-D ids on the CPU: token_cache.MappedIds (the token file), numpy arrays or tensors.
        self._ids = {"train": _numpy(train_ids), "val": _numpy(val_ids)}  # (N_train,), (N_val,)
        self._offsets = np.arange(context + 1)  # (T + 1,)
        self.context = context
        self.batch_size = batch_size
        self.device = device
        self.tokens_per_batch = batch_size * context

    def batch(self, split: str, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        ids = self._ids[split]  # (N,)
        # One start per row among the N - T windows: the same draw as ever, so resumes stay exact.
        ix = torch.randint(len(ids) - self.context, (self.batch_size,), generator=gen)  # (B,)
        rows = ids[ix.numpy()[:, None] + self._offsets]  # (B, T + 1), one gather
        chunk = torch.from_numpy(rows.astype(np.int64))  # (B, T + 1)
        if self.device.type == "cuda":  # page-locked, so the copy overlaps the GPU's work on the last step
            chunk = chunk.pin_memory().to(self.device, non_blocking=True)  # (B, T + 1)
        else:
            chunk = chunk.to(self.device)  # (B, T + 1)
        return chunk[:, :-1], chunk[:, 1:]  # (B, T), (B, T)

    def first_val_token(self) -> int:
        return int(self._ids["val"][0])


def _numpy(ids) -> np.ndarray:
    return ids.cpu().numpy() if isinstance(ids, torch.Tensor) else ids
