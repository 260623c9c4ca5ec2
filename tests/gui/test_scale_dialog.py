"""The Train tab's "Run this at scale…": the torchrun command reproduces the run the tab would start."""

from __future__ import annotations

import shlex
from dataclasses import asdict

import pytest
from PySide6.QtGui import QGuiApplication

from playground import cli
from playground.core import config, tokenizers
from playground.core import corpus as corpus_mod
from playground.gui import device_probe


@pytest.fixture
def tab(qtbot):
    from playground.gui.state import AppState
    from playground.gui.tabs.train_tab import TrainTab

    corpus = corpus_mod.load("builtin:grammar-lessons")
    tok = tokenizers.train_tokenizer("char", corpus.text)
    state = AppState()
    state.set_corpus(corpus)
    state.set_tokenizer(tok)
    state.set_model_config(config.ModelConfig(vocab_size=tok.vocab_size, context_length=32, n_layer=3,
                                              n_head=2, d_model=48, dropout=0.1))
    widget = TrainTab(state)
    qtbot.addWidget(widget)
    yield widget
    widget.shutdown()


def _parse(command: str):
    """The `playground train` options of a torchrun line, as the CLI reads them."""
    words = shlex.split(command)
    assert words[0] == "torchrun" and words[words.index("-m") + 1] == "playground"
    return cli.build_parser().parse_args(words[words.index("-m") + 2:])


def test_the_command_trains_the_same_run_and_copies(tab, qtbot):
    tab.settings.set_values(iters=1234, batch_size=24, lr=6e-4, warmup=50, eval_interval=100, seed=7)
    tab.settings.name_edit.setText("big one")
    tab.settings.scale_button.click()
    dialog = tab.findChild(QDialogType())
    assert dialog is not None and dialog.isVisible()
    args = _parse(dialog.command())
    assert args.corpus == "builtin:grammar-lessons" and args.tokenizer == "char" and args.name == "big one"
    # The CLI builds exactly the model and the settings the Start button would train.
    assert cli._model_config(args, tab.state.tokenizer.vocab_size) == tab.model_config()
    given = config.train_config_for(
        tab.model_config(), iters=args.iters, batch_size=args.batch, lr=args.lr, warmup=args.warmup,
        eval_interval=args.eval_interval, seed=args.seed, split=args.split, grad_accum=args.grad_accum)
    assert asdict(given) == asdict(tab.train_config())
    assert "--standalone --nproc-per-node=1" in dialog.command()

    dialog.processes.setValue(4)
    dialog.accum.setValue(2)
    text = dialog.command_box.toPlainText()
    assert "--nproc-per-node=4" in text and _parse(text).grad_accum == 2
    assert "24 × 2 × 4 = <b>192</b> sequences" in dialog.batch_label.text()
    dialog.nodes.setValue(2)
    assert "--nnodes=2" in dialog.command() and "--rdzv-endpoint=HOST_OF_NODE_0:29500" in dialog.command()
    assert "a folder all of them share" in dialog.notes.text() and dialog.notes.isVisibleTo(dialog)
    dialog.copy_button.click()
    assert QGuiApplication.clipboard().text() == dialog.command()
    assert "Import .zip" in dialog.back.text()


def test_the_tab_shows_the_device_training_will_use(tab, monkeypatch):
    monkeypatch.setattr(device_probe, "_cached", None)  # an earlier test of this process may have asked
    tab.state.set_model_config(config.preset("tiny", tab.state.tokenizer.vocab_size))  # any refresh
    assert "Trains on" not in tab.model_label.text()  # not known yet: nothing claimed
    monkeypatch.setattr(device_probe, "_cached", device_probe.DeviceInfo("cuda", "CUDA · NVIDIA H200 · 139 GB", None))
    tab.state.set_model_config(config.preset("small", tab.state.tokenizer.vocab_size))  # any refresh
    assert "Trains on: CUDA · NVIDIA H200 · 139 GB." in tab.model_label.text()


def QDialogType():  # noqa: N802 - the class, imported late as the tab imports the dialog late
    from playground.gui.scale_dialog import ScaleDialog

    return ScaleDialog
