"""Run folders: layout, atomic saves that survive crashes and full disks, safe loads, housekeeping."""

from __future__ import annotations

import errno
import json
import os
import zipfile
from itertools import pairwise

import pytest
import torch

from playground import paths
from playground.core import checkpoint as ckpt
from playground.core.checkpoint import Run, export_zip, import_zip, list_runs, restore, retained_steps
from playground.core.config import ModelConfig, TrainConfig
from playground.core.model import build_model
from playground.core.tokenizers import CharTokenizer
from playground.errors import CheckpointError, TrainingError

TEXT = "hello world, hello there.\n" * 20
TOK_IDS = CharTokenizer.train(TEXT).encode("hello there")
RECORD = {"source": "builtin:copy-lessons", "name": "Copy lessons", "sha256": "0" * 64, "split": 0.9,
          "encoding": "utf-8"}


def _make(name: str | None = "demo") -> Run:
    tok = CharTokenizer.train(TEXT)
    cfg = ModelConfig(vocab_size=tok.vocab_size, context_length=16, n_layer=1, n_head=2, d_model=16)
    return Run.create(name, cfg, TrainConfig(iters=10), RECORD, tok)


def test_create_layout_and_round_trip():
    run = _make("my run!")
    assert run.name == "my-run"  # sanitised
    assert run.path == paths.runs_dir() / "my-run"
    info = json.loads((run.path / "run.json").read_text())
    assert info["format_version"] == ckpt.FORMAT_VERSION
    assert info["status"] == "created" and info["step"] == 0 and info["best_val_loss"] is None
    assert info["tokenizer"] == {"kind": "char", "vocab_size": run.tokenizer.vocab_size}
    assert info["corpus"] == RECORD
    assert run.model_config.d_model == 16
    assert run.train_config == TrainConfig(iters=10)
    assert run.tokenizer.decode(run.tokenizer.encode("hello")) == "hello"
    assert (run.path / "checkpoints").is_dir()
    # Same name again: made unique, never overwritten.
    assert _make("my run!").name == "my-run-2"


def test_default_name_uses_corpus_size_and_time():
    run = _make(None)
    assert run.name.startswith("copy-lessons-1x16-")
    tiny = ckpt.default_run_name({"source": "/x/notes v2.txt", "name": "notes v2.txt"},
                                 {"arch": "gpt", **ModelConfig(vocab_size=10).to_dict()})
    assert tiny.startswith("notes-v2-tiny-") and " " not in tiny


def test_open_by_name_path_and_latest():
    a = _make("a")
    b = _make("b")
    a.update(step=5)  # a is now the most recently active
    assert Run.open("a") == a
    assert Run.open(str(b.path)) == b
    assert Run.open("latest") == a
    assert [r.name for r in list_runs()] == ["a", "b"]
    with pytest.raises(CheckpointError, match="no run called 'nope'"):
        Run.open("nope")


def test_open_latest_without_runs():
    with pytest.raises(CheckpointError, match="no runs yet"):
        Run.open("latest")


def test_damaged_run_json_is_skipped_in_list_and_clear_on_open():
    run = _make("broken")
    (run.path / "run.json").write_text("{not json")
    assert list_runs() == []
    with pytest.raises(CheckpointError, match="damaged"):
        Run.open(str(run.path))


def test_metrics_append_read_and_torn_line():
    run = _make()
    run.append_metrics({"kind": "step", "it": 1, "loss": 4.25, "lr": 1e-3, "tokens_per_s": 1000.0, "time": 0.5})
    run.append_metrics({"kind": "eval", "it": 1, "train_loss": 4.0, "val_loss": 4.125, "time": 0.75})
    run.close_metrics()
    header = (run.path / "metrics.csv").read_text().splitlines()[0]
    assert header == "kind,it,loss,train_loss,val_loss,lr,tokens_per_s,time"
    # A crash mid-write leaves half a row: reading skips it, the next append cuts it off.
    with open(run.path / "metrics.csv", "a") as fh:
        fh.write("step,2,3.9")
    rows = run.metrics()
    assert [r["kind"] for r in rows] == ["step", "eval"]
    assert rows[0] == {"kind": "step", "it": 1, "loss": 4.25, "train_loss": None, "val_loss": None,
                       "lr": 1e-3, "tokens_per_s": 1000.0, "time": 0.5}
    assert run.evals() == [(1, 4.0, 4.125)]
    run2 = Run.open("demo")
    run2.append_metrics({"kind": "step", "it": 2, "loss": 3.5})
    run2.close_metrics()
    assert [r["it"] for r in run2.metrics("step")] == [1, 2]
    assert "3.9" not in (run.path / "metrics.csv").read_text()
    run2.truncate_metrics(1)
    assert [(r["kind"], r["it"]) for r in run2.metrics()] == [("step", 1), ("eval", 1)]


def assert_same_weights(loaded: torch.nn.Module, saved: torch.nn.Module) -> None:
    """Every tensor equal, and so the same logits for the same tokens."""
    a, b = loaded.state_dict(), saved.state_dict()
    assert list(a) == list(b)
    for key in a:
        assert torch.equal(a[key], b[key]), key
    x = torch.tensor([TOK_IDS])  # (1, T)
    with torch.no_grad():
        assert torch.equal(loaded.eval()(x).logits, saved.eval()(x).logits)


def test_snapshots_latest_and_load_model():
    run = _make()
    torch.manual_seed(0)
    model = build_model(run.model_config)
    path = run.save_snapshot(7, model, 2.5)
    assert path.name == "step_000007.pt"
    assert run.snapshots() == [(7, path)]
    raw = torch.load(path, weights_only=True)
    assert raw["format_version"] == ckpt.FORMAT_VERSION and raw["step"] == 7 and raw["val_loss"] == 2.5
    loaded = run.load_model(7)
    assert not loaded.training
    assert_same_weights(loaded, model)
    # latest.pt holds the full state; load_model() without a step reads it (trained on since step 7).
    later = build_model(run.model_config)
    opt = torch.optim.AdamW(later.parameters())
    run.save_latest({"step": 9, "model": later.state_dict(), "optimizer": opt.state_dict(),
                     "rng": {"torch": torch.get_rng_state(), "python": [3, [1, 2], None]}})
    state = run.load_latest()
    assert state["step"] == 9 and state["rng"]["python"] == [3, [1, 2], None]
    assert not torch.equal(later.wte.weight, model.wte.weight)
    assert_same_weights(run.load_model(), later)
    assert_same_weights(run.load_model(7), model)  # the snapshot is untouched


def test_retention_keeps_first_last_and_thins_evenly():
    assert retained_steps([1, 2, 3], 20) == [1, 2, 3]
    kept = retained_steps(list(range(0, 1001, 10)), 20)
    assert len(kept) == 20 and kept[0] == 0 and kept[-1] == 1000
    gaps = [b - a for a, b in pairwise(kept)]
    assert max(gaps) - min(gaps) <= 20  # evenly spread (targets every ~52.6 steps)
    run = _make()
    model = build_model(run.model_config)
    for step in range(0, 250, 10):  # 25 snapshots, keep 6
        run.save_snapshot(step, model, 1.0, keep=6)
    steps = [s for s, _ in run.snapshots()]
    assert len(steps) == 6 and steps[0] == 0 and steps[-1] == 240


def test_missing_and_corrupt_checkpoints_give_checkpoint_error():
    run = _make()
    with pytest.raises(CheckpointError, match="missing"):
        run.load_latest()
    with pytest.raises(CheckpointError, match="no saved weights"):
        run.load_model()
    model = build_model(run.model_config)
    path = run.save_snapshot(3, model, None)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # truncated by a crash outside our atomic writer
    with pytest.raises(CheckpointError, match="damaged or incomplete"):
        run.load_model(3)
    torch.save({"format_version": 99, "step": 1, "model": {}}, run.latest_path)
    with pytest.raises(CheckpointError, match="newer version"):
        run.load_latest()


def test_crash_mid_save_keeps_previous_latest(monkeypatch):
    run = _make()
    model = build_model(run.model_config)
    run.save_latest({"step": 1, "model": model.state_dict()})
    real_save = torch.save

    def dying_save(obj, f, *a, **kw):
        with open(f, "wb") as fh:
            fh.write(b"PK\x03\x04 half a file")
        raise KeyboardInterrupt  # the process is killed mid-write

    monkeypatch.setattr(torch, "save", dying_save)
    with pytest.raises(KeyboardInterrupt):
        run.save_latest({"step": 2, "model": model.state_dict()})
    monkeypatch.setattr(torch, "save", real_save)
    assert run.load_latest()["step"] == 1
    assert [f.name for f in run.path.iterdir() if f.name.endswith(".tmp")] == []


def test_disk_full_is_a_training_error_and_keeps_previous(monkeypatch):
    run = _make()
    model = build_model(run.model_config)
    run.save_latest({"step": 1, "model": model.state_dict()})

    def full_disk(obj, f, *a, **kw):
        with open(f, "wb") as fh:
            fh.write(b"PK\x03\x04")
        raise OSError(errno.ENOSPC, "No space left on device")

    real_save = torch.save
    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(TrainingError, match="disk is full") as info:
        run.save_latest({"step": 2, "model": model.state_dict()})
    assert "Free some disk space" in info.value.hint
    with pytest.raises(TrainingError):
        run.save_snapshot(2, model, 1.0)
    monkeypatch.setattr(torch, "save", real_save)
    assert run.load_latest()["step"] == 1
    assert run.snapshots() == []
    assert not any(f.name.endswith(".tmp") for f in run.path.rglob("*"))


def test_rename_delete_restore_and_disk_size():
    run = _make("old")
    model = build_model(run.model_config)
    run.save_snapshot(0, model, None)
    size = run.disk_size()
    assert size == sum(f.stat().st_size for f in run.path.rglob("*") if f.is_file()) and size > 0
    run.rename("new name")
    assert run.name == "new-name" and run.info["name"] == "new-name"
    size = run.disk_size()  # run.json now holds the new name
    assert Run.open("new-name").info["name"] == "new-name"
    _make("taken")
    with pytest.raises(CheckpointError, match="already exists"):
        run.rename("taken")
    trash = run.delete()
    assert trash.parent == paths.trash_dir() and not run.path.exists()
    assert [r.name for r in list_runs()] == ["taken"]
    back = restore(trash)
    assert back.name == "new-name" and back.disk_size() == size
    assert_same_weights(back.load_model(0), model)


def test_export_import_zip_round_trip(tmp_path):
    run = _make("shared")
    model = build_model(run.model_config)
    run.save_snapshot(0, model, 3.0)
    run.save_latest({"step": 0, "model": model.state_dict()})
    run.append_metrics({"kind": "eval", "it": 0, "train_loss": 3.1, "val_loss": 3.0})
    run.update(status="training")
    zpath = export_zip(run, tmp_path / "shared.zip")
    imported = import_zip(zpath)
    assert imported.name == "shared-2" and imported.info["name"] == "shared-2"
    assert imported.status == "stopped"  # exported mid-training: it is not training here
    assert imported.metrics() == run.metrics()
    for rel in ("tokenizer.json", "latest.pt", "checkpoints/step_000000.pt", "metrics.csv"):
        assert (imported.path / rel).read_bytes() == (run.path / rel).read_bytes()
    assert_same_weights(imported.load_model(0), model)


@pytest.mark.parametrize("bad", ["../evil/run.json", "/abs/run.json", "x/../../run.json"])
def test_import_refuses_unsafe_paths(tmp_path, bad):
    zpath = tmp_path / "bad.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        zf.writestr("x/run.json", json.dumps({"model": {}, "name": "x"}))
        zf.writestr(bad, "boom")
    with pytest.raises(CheckpointError, match="unsafe path"):
        import_zip(zpath)
    assert not (tmp_path / "evil").exists()
    assert [p for p in paths.runs_dir().iterdir()] == []


def test_import_refuses_non_runs(tmp_path):
    (tmp_path / "junk.zip").write_bytes(b"not a zip")
    with pytest.raises(CheckpointError, match="not a readable .zip"):
        import_zip(tmp_path / "junk.zip")
    zpath = tmp_path / "other.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        zf.writestr("folder/readme.txt", "hi")
    with pytest.raises(CheckpointError, match="not an exported run"):
        import_zip(zpath)
    assert os.listdir(paths.runs_dir()) == []


def _save_weights(run: Run, step: int) -> None:
    model = build_model(run.model_config)
    run.save_latest({"step": step, "model": model.state_dict()})
    run.save_snapshot(step, model, 1.0)


def test_saved_step_reset_and_discard_of_a_run_without_progress():
    run = _make("fresh")
    assert run.saved_step() == 0
    assert run.discard_unstarted() and not run.path.exists()  # nothing trained: not kept

    run = _make("trained")
    _save_weights(run, 0)
    _save_weights(run, 6)  # killed before run.json said so: latest.pt and the snapshot tell
    run.append_metrics({"kind": "step", "it": 6, "loss": 1.0})
    assert run.step == 0 and run.saved_step() == 6
    assert not run.discard_unstarted() and run.path.exists()  # weights are never thrown away here
    run.update(status="stopped", step=6, best_val_loss=1.0, interrupted=True)
    run.reset()
    again = Run(run.path)
    assert (again.status, again.step, again.info["best_val_loss"], again.saved_step()) == ("created", 0, None, 0)
    assert "interrupted" not in again.info
    assert not again.has_latest() and again.snapshots() == [] and again.metrics() == []
    assert again.tokenizer.vocab_size == run.tokenizer.vocab_size and again.info["train"]["iters"] == 10


def test_a_read_only_runs_folder_is_said_in_words(monkeypatch):
    paths.runs_dir()

    def refuse(**kw):
        raise PermissionError(errno.EACCES, "Permission denied", str(paths.runs_dir() / ".x"))

    monkeypatch.setattr(ckpt.tempfile, "mkdtemp", refuse)
    with pytest.raises(CheckpointError) as info:
        _make("nope")
    assert "read-only" in info.value.message and "Errno" not in info.value.message
    assert "PLAYGROUND_HOME" in info.value.hint
