"""The Train tab's "Run this at scale…": the torchrun command that trains this run on a bigger machine.

    dialog = ScaleDialog(corpus_source, tokenizer, model_cfg, train_cfg, run_name, parent=tab)
    dialog.command()          # the exact line; dialog.copy_button puts it on the clipboard

The command reproduces the run as the Train tab would start it: the same text, tokenizer, model
size and training settings (``core.distributed.train_command``). Processes and machines are
chosen here; so is gradient accumulation, which multiplies the sequences one step learns from
without needing more memory. Below it: how to bring the finished run back into the app.
"""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QFont, QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
)

from playground import paths
from playground.core import config, distributed
from playground.errors import PlaygroundError
from playground.gui import ui


class ScaleDialog(QDialog):
    def __init__(self, corpus_source: str, tokenizer, model_cfg: config.ModelConfig,
                 train_cfg: config.TrainConfig, run_name: str | None, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Run this at scale")
        self.corpus_source = corpus_source
        self.tokenizer_kind = tokenizer.kind
        self.vocab_size = tokenizer.vocab_size
        self.model_cfg = model_cfg
        self.train_cfg = train_cfg
        self.run_name = run_name
        self.model_args, self.missing = distributed.model_args(model_cfg)

        intro = QLabel(
            "Train this run on a machine with GPUs (or many CPU cores), with PyTorch's own "
            "<b>torchrun</b>: one process per GPU, each drawing its own batches, their gradients "
            "averaged every step (DistributedDataParallel). Install LLM Playground there, then "
            "run this command in a terminal:")
        intro.setWordWrap(True)
        self.processes = ui.SpinBox("The number of processes")
        self.processes.setRange(1, 64)
        self.processes.setValue(1)
        self.processes.setToolTip("Processes per machine: one per GPU (1 to 64)")
        self.nodes = ui.SpinBox("The number of machines")
        self.nodes.setRange(1, 64)
        self.nodes.setToolTip("Machines that train together (1 to 64); they need a shared runs folder")
        self.accum = ui.SpinBox("Gradient accumulation")
        self.accum.setRange(1, 4096)
        self.accum.setValue(train_cfg.grad_accum)
        self.accum.setToolTip("Add up this many batches' gradients before each update: a bigger "
                              "effective batch in the memory of one batch (1 to 4096)")
        form = QFormLayout()
        form.addRow("GPUs (processes) per machine:", self.processes)
        form.addRow("Machines:", self.nodes)
        form.addRow("Gradient accumulation:", self.accum)

        self.command_box = QPlainTextEdit()
        self.command_box.setReadOnly(True)
        mono = QFont("monospace")
        mono.setStyleHint(QFont.Monospace)
        self.command_box.setFont(mono)
        self.command_box.setMinimumHeight(110)
        self.copy_button = QPushButton("Copy")
        self.copy_button.setToolTip("Put the command on the clipboard")
        self.copy_button.clicked.connect(self.copy)
        self.batch_label = QLabel()
        self.batch_label.setWordWrap(True)
        self.notes = QLabel()
        self.notes.setWordWrap(True)
        self.notes.setStyleSheet(ui.WARNING)
        self.back = QLabel(self._back_text())
        self.back.setWordWrap(True)
        self.back.setTextInteractionFlags(Qt.TextSelectableByMouse)

        buttons = QDialogButtonBox(QDialogButtonBox.Close)
        buttons.addButton(self.copy_button, QDialogButtonBox.ActionRole)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        for w in (self.command_box, self.batch_label, self.notes, self.back):
            layout.addWidget(w)
        layout.addWidget(buttons)
        for box in (self.processes, self.nodes, self.accum):
            box.valueChanged.connect(self._refresh)
        self.resize(720, 520)
        self._refresh()

    def command(self) -> str:
        from dataclasses import replace

        tcfg = replace(self.train_cfg, grad_accum=self.accum.value())
        return distributed.train_command(
            corpus_source=self.corpus_source, tokenizer_kind=self.tokenizer_kind, vocab_size=self.vocab_size,
            model_args=self.model_args, train_cfg=tcfg, name=self.run_name,
            processes=self.processes.value(), nodes=self.nodes.value())

    @Slot()
    def _refresh(self) -> None:
        self.command_box.setPlainText(self.command())
        world = self.processes.value() * self.nodes.value()
        per_step = self.train_cfg.batch_size * self.accum.value() * world
        self.batch_label.setText(
            f"Each step learns from {self.train_cfg.batch_size} × {self.accum.value()} × {world} = "
            f"<b>{per_step:,}</b> sequences of {self.model_cfg.context_length} tokens "
            "(batch × accumulation × processes). With 1 process and no accumulation the run is the "
            "one the Start button would train; on a GPU it trains in bf16, so its numbers differ slightly.")
        notes = self._notes()
        self.notes.setText("<br>".join(html.escape(n, quote=False) for n in notes))
        self.notes.setVisible(bool(notes))

    def _notes(self) -> list[str]:
        notes = []
        source = self.corpus_source
        if source == "pasted":
            notes.append("This text was pasted, not read from a file: save it as a file on the "
                         "machine and put its path after --corpus.")
        elif not source.startswith(("builtin:", "download:")):
            notes.append(f"The text must be at {source} on that machine too (copy it there, or "
                         "change the path after --corpus).")
        if self.tokenizer_kind == "gpt2":
            notes.append("The gpt2 tokenizer is downloaded once: the machine needs the internet the "
                         "first time (or a copy of this computer's tiktoken cache).")
        if self.missing:
            notes.append("The command line cannot set " + ", ".join(self.missing) +
                         ": the model there differs from this one in that.")
        if self.nodes.value() > 1:
            notes.append("Several machines: run the same command on each, with HOST_OF_NODE_0 replaced "
                         "by the first machine's address; PLAYGROUND_HOME must be a folder all of them "
                         "share (the other processes open the run folder the first one creates).")
        return notes

    @staticmethod
    def _back_text() -> str:
        here = html.escape(str(paths.runs_dir()))
        return ("<b>Bringing the result back.</b> Rank 0 writes the run, as any other, into the runs "
                "folder of the machine it trains on (<code>$PLAYGROUND_HOME/data/runs/NAME</code> when "
                "PLAYGROUND_HOME is set). Copy that folder into this computer's runs folder "
                f"(<code>{here}</code>), or zip it there with <code>python -m zipfile -c NAME.zip NAME</code> "
                "and use <b>Import .zip…</b> in the runs list below the plots. It then opens in Train, "
                "Attention and Generate like a run trained here. To continue it on the big machine: "
                "the same torchrun line with <code>--resume NAME</code> instead of the settings (any "
                "number of processes).")

    @Slot()
    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.command())


def open_for(tab) -> ScaleDialog | None:
    """Open the dialog for the Train tab's current corpus, tokenizer, model and settings."""
    state = tab.state
    if state.corpus is None or state.tokenizer is None:
        tab.message_label.show_text("Choose a text and a tokenizer first: the command trains on them.", ui.WARNING)
        return None
    try:
        train_cfg = tab.train_config()
        model_cfg = tab.model_config()
    except PlaygroundError as exc:
        tab.message_label.show_error(exc)
        return None
    dialog = ScaleDialog(state.corpus.source, state.tokenizer, model_cfg, train_cfg,
                         tab.settings.run_name, parent=tab)
    dialog.show()
    return dialog
