"""Where a training step's batches come from.

The trainer asks ``data.batch(split, gen)`` for a tuple of tensors and calls ``model(*batch)``;
each kind of model brings its own source. ``TokenBatches`` is the decoder-only one: windows of
T + 1 tokens cut from one token sequence, validation being its end, as in nanoGPT.
"""
from __future__ import annotations

import torch


class TokenBatches:
    """Random windows of ``context`` + 1 tokens from the training or validation ids."""

    def __init__(self, train_ids: torch.Tensor, val_ids: torch.Tensor, context: int, batch_size: int,
                 device: torch.device) -> None:
        self.batch_size = batch_size
        self.device = device
        self.train_ids = train_ids.to(device)  # (N_train,)
        self.val_ids = val_ids.to(device)  # (N_val,)
        # Every window of T+1 tokens as a view: a batch is one gather, no per-row Python loop.
        self._windows = {
            "train": self.train_ids.unfold(0, context + 1, 1),  # (N_train - T, T + 1)
            "val": self.val_ids.unfold(0, context + 1, 1),  # (N_val - T, T + 1)
        }
        self.tokens_per_batch = batch_size * context

    def batch(self, split: str, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        windows = self._windows[split]  # (N - T, T + 1)
        ix = torch.randint(windows.shape[0], (self.batch_size,), generator=gen)  # (B,)
        chunk = windows[ix.to(self.device)]  # (B, T + 1)
        return chunk[:, :-1], chunk[:, 1:]  # (B, T), (B, T)

    def first_val_token(self) -> int:
        return int(self.val_ids[0])
