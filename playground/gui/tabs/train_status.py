"""What the Train tab says about a training: its time, how it ended, and an interrupted run.

    clock = ActiveClock(); clock.start(); clock.pause(); clock.seconds   # pauses not counted
    status, message, style = finished_summary(finished_event)
    banner = ResumeBanner(); banner.offer(checkpoint.list_runs())        # the newest run, if cut off
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton

from playground.core import checkpoint
from playground.core.events import Finished
from playground.gui import ui
from playground.gui.widgets.runs_list import can_start_again, cut_off

FINISHED_TITLES = {
    "done": "Training finished",
    "stopped": "Training stopped",
    "nan": "Training stopped: the loss became NaN (not a number)",
    "oom": "Training stopped: out of memory",
    "error": "Training stopped by an error",
}


def format_duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class ActiveClock:
    """Training time of this session: runs while steps are taken, stands still while paused."""

    def __init__(self) -> None:
        self._before = 0.0
        self._since: float | None = None

    def reset(self) -> None:
        self._before, self._since = 0.0, None

    def start(self) -> None:
        if self._since is None:
            self._since = time.monotonic()

    def pause(self) -> None:
        if self._since is not None:
            self._before += time.monotonic() - self._since
            self._since = None

    @property
    def running(self) -> bool:
        return self._since is not None

    @property
    def seconds(self) -> float:
        return self._before + (time.monotonic() - self._since if self._since is not None else 0.0)


def finished_summary(ev: Finished) -> tuple[str, str, str]:
    """(status line, message, ui style) for how a training ended.

    After a failure the trainer's message already says what to change (``ev.suggest`` names the
    setting, which the tab outlines in its form), so the message is shown as it came.
    """
    title = FINISHED_TITLES.get(ev.reason, "Training ended")
    if ev.reason == "done":
        return (f"{title}. {ev.message}",
                f"{title} at step {ev.it:,}. This model is now the current one in the Attention and Generate tabs.",
                ui.INFO)
    if ev.reason == "stopped":
        return (f"{title}. {ev.message}",
                f"{title} at step {ev.it:,} and saved. Resume it from the runs list whenever you like.",
                ui.INFO)
    return title + ".", f"<b>{title}.</b><br>{ev.message or ''}".replace("\n", "<br>"), ui.ERROR


class ResumeBanner(QFrame):
    """A note over the tab when the newest run's training was cut off, with Resume and Dismiss.

    Cut off: the window closed while it trained, or the app (or the computer) was killed and no
    process trains it any more (runs_list.cut_off). A run cut off before its first checkpoint
    has nothing to resume: the note offers to start it again instead. The tab wires
    ``resume_button`` and ``dismiss_button``: resuming and clearing the run's "interrupted" flag
    depend on whether it is training. The note never blocks anything (no dialog).
    """

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setStyleSheet(f"QFrame {{ {ui.INFO} }} QLabel {{ border: none; padding: 0; }}")
        self.run: checkpoint.Run | None = None
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.resume_button = QPushButton("Resume it")
        self.dismiss_button = QPushButton("Dismiss")
        self.dismiss_button.setToolTip("Hide this note; the run stays in the runs list")
        row = QHBoxLayout(self)
        row.addWidget(self.label, 1)
        row.addWidget(self.resume_button)
        row.addWidget(self.dismiss_button)
        self.hide()

    def offer(self, runs: Sequence[checkpoint.Run]) -> checkpoint.Run | None:
        """Show the note for the newest of ``runs`` (newest first) if its training was cut off."""
        run = runs[0] if runs else None
        if run is None or not cut_off(run) or not (run.has_latest() or can_start_again(run)):
            self.hide()
            return None
        iters = run.info.get("train", {}).get("iters", "?")
        of = f" of {iters:,}" if isinstance(iters, int) else ""
        why = ("the app closed while it was training" if run.info.get("interrupted") else
               "training was cut off (the app or the computer stopped)")
        if run.has_latest():
            self.label.setText(f"<b>Resume training?</b> Run <b>{run.name}</b> stopped at step "
                               f"{run.step:,}{of} because {why}. Its last checkpoint is saved.")
            self.resume_button.setText("Resume it")
            self.resume_button.setToolTip("Continue training this run from its last checkpoint")
        else:
            self.label.setText(f"<b>Start again?</b> Run <b>{run.name}</b> stopped before its first "
                               f"checkpoint because {why}, so there is nothing to resume. It can "
                               "start again from the beginning with the same settings.")
            self.resume_button.setText("Start again")
            self.resume_button.setToolTip("Train this run again from step 0, with its settings")
        self.run = run
        self.show()
        return run

    def take(self) -> checkpoint.Run | None:
        """Hide the note and hand back the run it offered (None if none)."""
        run, self.run = self.run, None
        self.hide()
        return run
