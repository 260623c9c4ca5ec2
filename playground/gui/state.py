"""What the tabs share: the current corpus, split, tokenizer, model config and run.

Tabs read and set these through one ``AppState`` and listen to its signals; they never reach
into each other's widgets. Setting a value equal to the one already held emits nothing
(equality, not identity: the same run opened twice is one run).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Signal

DEFAULT_BATCH_SIZE = 16  # Tiny's default (core.config.training_defaults); the Train tab sets the size's own


class AppState(QObject):
    corpusChanged = Signal(object)  # Corpus | None
    splitChanged = Signal(float)  # fraction of the corpus used for training (0.5 .. 0.99)
    tokenizerChanged = Signal(object)  # Tokenizer | None
    modelConfigChanged = Signal(object)  # ModelConfig | None
    runChanged = Signal(object)  # Run | None
    # Sequences per training step: one setting shown on the Model tab (memory, Measure) and the
    # Train tab (training), so what is measured is what trains.
    batchSizeChanged = Signal(int)
    # A training run wrote a checkpoint: (run folder as str, step). Views of that run refresh
    # on it instead of polling the disk.
    checkpointSaved = Signal(str, int)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._corpus: Any = None
        self._split = 0.9
        self._tokenizer: Any = None
        self._model_config: Any = None
        self._run: Any = None
        self._batch_size = DEFAULT_BATCH_SIZE

    # The getters are properties, the setters explicit methods: a tab that changes shared state
    # should read like it does.
    @property
    def corpus(self) -> Any:
        return self._corpus

    def set_corpus(self, corpus: Any) -> None:
        if corpus != self._corpus:
            self._corpus = corpus
            self.corpusChanged.emit(corpus)

    @property
    def split(self) -> float:
        return self._split

    def set_split(self, fraction: float) -> None:
        fraction = round(float(fraction), 4)
        if fraction != self._split:
            self._split = fraction
            self.splitChanged.emit(fraction)

    @property
    def tokenizer(self) -> Any:
        return self._tokenizer

    def set_tokenizer(self, tokenizer: Any) -> None:
        if tokenizer != self._tokenizer:
            self._tokenizer = tokenizer
            self.tokenizerChanged.emit(tokenizer)

    @property
    def model_config(self) -> Any:
        return self._model_config

    def set_model_config(self, config: Any) -> None:
        if config != self._model_config:
            self._model_config = config
            self.modelConfigChanged.emit(config)

    @property
    def run(self) -> Any:
        return self._run

    def set_run(self, run: Any) -> None:
        if run != self._run:
            self._run = run
            self.runChanged.emit(run)

    @property
    def batch_size(self) -> int:
        return self._batch_size

    def set_batch_size(self, batch_size: int) -> None:
        if int(batch_size) != self._batch_size:
            self._batch_size = int(batch_size)
            self.batchSizeChanged.emit(self._batch_size)

    def notify_checkpoint(self, run_path: str, step: int) -> None:
        """The Train tab calls this when its run saved a checkpoint at ``step``."""
        self.checkpointSaved.emit(str(run_path), int(step))
