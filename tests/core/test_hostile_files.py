"""Files that are not what they claim: pipes as corpora, code in checkpoints, zip bombs, full disks."""

from __future__ import annotations

import errno
import os
import pickle
import zipfile
from collections import namedtuple

import pytest
import torch

from playground import paths
from playground.core import checkpoint as ckpt
from playground.core import corpus as corpus_mod
from playground.core.checkpoint import Run, export_zip, import_zip
from playground.core.config import ModelConfig, TrainConfig
from playground.core.tokenizers import CharTokenizer
from playground.errors import CheckpointError, CorpusError

TEXT = "hello world, hello there.\n" * 20
RECORD = {"source": "builtin:copy-lessons", "name": "Copy lessons", "sha256": "0" * 64, "split": 0.9,
          "encoding": "utf-8"}


def _run(name: str = "demo") -> Run:
    tok = CharTokenizer.train(TEXT)
    cfg = ModelConfig(vocab_size=tok.vocab_size, context_length=16, n_layer=1, n_head=2, d_model=16)
    return Run.create(name, cfg, TrainConfig(iters=10), RECORD, tok)


def _runs_on_disk() -> list[str]:
    return sorted(p.name for p in paths.runs_dir().iterdir())


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
@pytest.mark.timeout(20)  # before the fix, opening the pipe blocked forever
def test_a_pipe_is_refused_as_a_corpus_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    with pytest.raises(CorpusError, match="not a regular file"):
        corpus_mod.load(str(fifo))
    # In a folder, the pipe is skipped and the real file is read.
    (tmp_path / "real.txt").write_text("some text here\n", encoding="utf-8")
    assert "some text here" in corpus_mod.load(str(tmp_path)).text


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo this must never run",))


def test_a_checkpoint_with_code_is_refused_as_code_not_damage():
    run = _run()
    path = run.snapshot_path(10)
    torch.save({"format_version": 1, "model": _Evil()}, path)
    with pytest.raises(CheckpointError) as info:
        run.load_snapshot(10)
    text = info.value.message + " " + (info.value.hint or "")
    assert "program code" in info.value.message and "damaged" not in info.value.message
    assert "in run 'demo'" in info.value.message
    assert "weights_only" not in text and "Re-running" not in text  # never advise loading it unsafely


def test_garbage_bytes_are_reported_as_damaged():
    run = _run()
    path = run.snapshot_path(10)
    path.write_bytes(pickle.dumps([1, 2, 3])[:5] + b"garbage")
    with pytest.raises(CheckpointError, match="damaged or incomplete"):
        run.load_snapshot(10)


def _bomb(tmp_path, megabytes: int) -> os.PathLike:
    """A zip that looks like an exported run but holds megabytes of zeros (compresses ~1000:1)."""
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("demo/run.json", "{}")
        zf.writestr("demo/checkpoints/step_000010.pt", b"\0" * (megabytes * 1024**2))
    return path


def test_a_zip_bomb_is_refused_before_unpacking(tmp_path):
    before = _runs_on_disk() if paths.runs_dir().exists() else []
    with pytest.raises(CheckpointError, match="compresses that much"):
        import_zip(_bomb(tmp_path, 20))
    assert (_runs_on_disk() if paths.runs_dir().exists() else []) == before  # nothing unpacked


def test_a_zip_larger_than_the_free_disk_is_refused(tmp_path, monkeypatch):
    zipped = export_zip(_run(), tmp_path / "demo.zip")
    before = _runs_on_disk()
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(ckpt.shutil, "disk_usage", lambda _p: usage(10**9, 10**9, 1000))
    with pytest.raises(CheckpointError, match="only 0.00 GB is free"):
        import_zip(zipped)
    assert _runs_on_disk() == before


def test_a_full_disk_while_unpacking_leaves_nothing_behind(tmp_path, monkeypatch):
    zipped = export_zip(_run(), tmp_path / "demo.zip")
    before = _runs_on_disk()

    def full(*_args, **_kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(ckpt.shutil, "copyfileobj", full)
    with pytest.raises(CheckpointError) as info:
        import_zip(zipped)
    assert "disk is full" in info.value.message and "Errno" not in info.value.message
    assert _runs_on_disk() == before  # the half-unpacked temporary folder is gone


def test_an_honest_export_still_imports(tmp_path):
    zipped = export_zip(_run(), tmp_path / "demo.zip")
    run = import_zip(zipped)
    assert run.name == "demo-2" and run.tokenizer.vocab_size == CharTokenizer.train(TEXT).vocab_size


