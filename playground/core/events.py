"""What the trainer tells its consumers, as plain frozen dataclasses (no torch).

    for event in trainer.run():
        match event:
            case Step(it=it, loss=loss): ...
            case Eval(): ...
            case Finished(reason=reason): ...

The CLI progress bar, the GUI's training process and its plots all dispatch on these types;
they pickle across the training child's pipe unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Step:
    it: int  # optimizer steps done (1 = the first)
    loss: float  # training loss of this step's batch (before its update)
    lr: float  # learning rate used for this step
    tokens_per_s: float  # batch * context / step time, smoothed


@dataclass(frozen=True)
class Eval:
    it: int
    train_loss: float  # mean over eval_iters fixed batches
    val_loss: float


@dataclass(frozen=True)
class Checkpointed:
    it: int
    path: str  # the snapshot for the history slider (latest.pt is saved beside it)


@dataclass(frozen=True)
class Sample:
    it: int
    text: str  # generated from a fixed seed, so samples are comparable across evaluations


@dataclass(frozen=True)
class Note:
    it: int
    message: str  # something the student may want to know ("resumed from step 500", compile fell back)


@dataclass(frozen=True)
class Finished:
    reason: str  # "done" | "stopped" | "nan" | "oom" | "error"
    it: int
    message: str
    # The training setting to change after a failure ("lr" for nan, "batch_size" for oom), so a
    # consumer can point at it without reading the message; None when no one setting is to blame.
    suggest: str | None = None


Event = Step | Eval | Checkpointed | Sample | Note | Finished

# Noted before the first step when compiling; the Train tab clears it once a step has run.
COMPILING_NOTE = ("Compiling the model: the first step waits for it (up to a minute the first time, "
                  "seconds after that); the steps after it run faster.")
