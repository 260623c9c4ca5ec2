"""A run on disk: its folder layout, atomic saves, safe loads, and the runs list.

Layout of ``data/runs/<name>/``::

    run.json            format version, configs, corpus record, tokenizer, device, status
    tokenizer.json      the tokenizer, so a run is self-contained
    metrics.csv         one row per step and per evaluation, appended (and flushed) as training goes
    checkpoints/step_NNNNNN.pt   weights only, for the Attention tab's history slider (<= ~20 kept)
    latest.pt           weights + optimizer + RNG states + step: everything needed to resume exactly

Every write goes through :mod:`playground.core.atomic` (temp file + ``os.replace``), so a crash
or a full disk never leaves a half file where a good one was. Every load uses
``torch.load(weights_only=True)``: files hold only tensors, dicts, lists, numbers and strings.
"""

from __future__ import annotations

import csv
import dataclasses
import errno
import io
import json
import os
import pickle
import re
import shutil
import tempfile
import time
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any

from playground import paths
from playground.core import atomic
from playground.core.config import ModelConfig, TrainConfig, preset_name_of
from playground.errors import CheckpointError, PlaygroundError, TrainingError

FORMAT_VERSION = 1
STATUSES = ("created", "training", "stopped", "finished", "failed")
METRIC_FIELDS = ["kind", "it", "loss", "train_loss", "val_loss", "lr", "tokens_per_s", "time"]
_INT_FIELDS = {"it"}
_SNAPSHOT_RE = re.compile(r"^step_(\d{6,})\.pt$")
_NAME_BAD = re.compile(r"[^A-Za-z0-9._-]+")


# --------------------------------------------------------------------------- names

def sanitize_name(name: str) -> str:
    """A folder-safe run name: letters, digits, '.', '_' and '-' only, no leading dot."""
    clean = _NAME_BAD.sub("-", name.strip()).strip("-.")
    clean = re.sub(r"-{2,}", "-", clean)
    return clean[:80] or "run"


def _unique_name(base: str, parent: Path) -> str:
    name, n = base, 2
    while (parent / name).exists():
        name = f"{base}-{n}"
        n += 1
    return name


def _size_label(model_cfg: dict) -> str:
    """The preset's name when the config is one ("small"), else a short shape ("4x128")."""
    if model_cfg.get("arch") == "bigram":
        return "bigram"
    try:
        name = preset_name_of(ModelConfig.from_dict(model_cfg))
    except PlaygroundError:  # naming never fails: an odd config just gets its shape
        name = None
    if name:
        return name
    return f"{model_cfg.get('n_layer', '?')}x{model_cfg.get('d_model', '?')}"


def default_run_name(corpus_record: dict, model_cfg: dict, when: datetime | None = None) -> str:
    """``<corpus>-<size>-<YYYYmmdd-HHMMSS>``, e.g. ``copy-lessons-tiny-20250101-120000``."""
    source = str(corpus_record.get("source", ""))
    if source.startswith("builtin:"):
        corpus = source.split(":", 1)[1]
    else:
        corpus = Path(str(corpus_record.get("name") or "corpus")).stem
    stamp = (when or datetime.now()).strftime("%Y%m%d-%H%M%S")
    return sanitize_name(f"{corpus}-{_size_label(model_cfg)}-{stamp}")


def _config_dict(cfg: Any) -> dict:
    if cfg is None:
        return {}
    if isinstance(cfg, dict):
        return dict(cfg)
    if hasattr(cfg, "to_dict"):
        return dict(cfg.to_dict())
    if dataclasses.is_dataclass(cfg):
        return dataclasses.asdict(cfg)
    raise TypeError(f"cannot store a config of type {type(cfg).__name__}")


# --------------------------------------------------------------------------- safe torch I/O

def _load_pt(path: Path, map_location: Any = "cpu") -> dict:
    import torch

    if not path.exists():
        raise CheckpointError(f"The checkpoint {path.name} is missing from {path.parent}.",
                              "Pick another checkpoint, or train the run again.")
    try:
        obj = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        if "weights only" in str(exc).lower() and "global" in str(exc).lower():
            # weights_only refused a pickle naming a global (a function or class to build or call). Such
            # a file did not come from this app: say so, and never suggest loading it unsafely.
            raise CheckpointError(
                f"The checkpoint {path.name} in run '{_run_name_of(path)}' was refused: it contains "
                "program code or objects, not just weights, so opening it could run someone else's code.",
                "Only open runs created by LLM Playground; delete this file if you did not make it.") from exc
        raise _damaged(path, exc) from exc  # garbage bytes: damaged, not hostile
    except Exception as exc:  # truncated zip, foreign formats...
        raise _damaged(path, exc) from exc
    if not isinstance(obj, dict) or "format_version" not in obj:
        raise CheckpointError(f"{path.name} is not an LLM Playground checkpoint.",
                              "Open a run folder created by this app.")
    if obj["format_version"] > FORMAT_VERSION:
        raise CheckpointError(
            f"{path.name} was written by a newer version of LLM Playground "
            f"(format {obj['format_version']}, this version reads up to {FORMAT_VERSION}).",
            "Update the app to open this run.")
    return obj


def _run_name_of(checkpoint_file: Path) -> str:
    """The run a checkpoint belongs to: latest.pt sits in the run folder, snapshots one below."""
    folder = checkpoint_file.parent
    return folder.parent.name if folder.name == "checkpoints" else folder.name


def _damaged(path: Path, exc: BaseException) -> CheckpointError:
    first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else exc.__class__.__qualname__
    return CheckpointError(f"The checkpoint {path.name} in run '{_run_name_of(path)}' is damaged or incomplete "
                           f"and cannot be read ({first}).", "Pick an earlier checkpoint, or train the run again.")


def _disk_error(doing: str, exc: OSError, kind: type[PlaygroundError] = CheckpointError) -> PlaygroundError:
    """A machine's refusal (full disk, read-only folder) in words, with what to do."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return kind(f"Could not {doing}: the disk is full. What was saved before is unchanged.",
                    "Free some disk space (delete old runs), then try again.")
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        where = f" ({Path(exc.filename).parent})" if exc.filename else ""
        return kind(f"Could not {doing}: the runs folder is read-only{where}.",
                    "Choose a runs folder you can write to (set PLAYGROUND_HOME), or make this one writable.")
    return kind(f"Could not {doing}: {exc.strerror or exc}.", "Check the disk, then try again.")


def _is_disk_error(exc: RuntimeError) -> bool:
    text = str(exc).lower()
    return "write" in text or "enforce fail" in text


def _save_pt(obj: dict, path: Path) -> None:
    try:
        atomic.torch_save(obj, path)
    except OSError as exc:
        raise _disk_error(f"save the checkpoint {path.name}", exc, TrainingError) from exc
    except RuntimeError as exc:
        # torch's C++ writer reports a full disk as "[enforce fail at inline_container.cc] ... write"
        if not _is_disk_error(exc):
            raise
        raise TrainingError(f"Could not save the checkpoint {path.name}: writing the file failed, most likely "
                            "because the disk is full. The previous checkpoint is unchanged.",
                            "Free some disk space (delete old runs), then resume the run.") from exc


def _state_dict(model) -> dict:
    """The plain model's weights (``torch.compile`` wraps it as ``_orig_mod``)."""
    return getattr(model, "_orig_mod", model).state_dict()


# --------------------------------------------------------------------------- retention

def retained_steps(steps: list[int], keep: int) -> list[int]:
    """Which snapshot steps to keep: at most ``keep``, always the first and the last, the rest
    the ones nearest to evenly spaced points between them (old history gets thinned)."""
    steps = sorted(set(steps))
    if keep < 2 or len(steps) <= keep:
        return steps if keep >= 2 or len(steps) <= 1 else [steps[-1]]
    first, last = steps[0], steps[-1]
    chosen: set[int] = set()
    for k in range(keep):
        target = first + (last - first) * k / (keep - 1)
        best = min((s for s in steps if s not in chosen), key=lambda s: (abs(s - target), s))
        chosen.add(best)
    return sorted(chosen)


# --------------------------------------------------------------------------- files of a run folder
# Plain path arithmetic, without reading run.json: a view may ask about a folder that is being
# deleted or renamed.

def snapshot_file(run_path: str | os.PathLike, step: int) -> Path:
    return Path(run_path) / Run.CHECKPOINTS / f"step_{step:06d}.pt"


def snapshot_files(run_path: str | os.PathLike) -> list[tuple[int, Path]]:
    """(step, path) of every saved snapshot in the folder, oldest first."""
    folder = Path(run_path) / Run.CHECKPOINTS
    if not folder.is_dir():
        return []
    found = ((_SNAPSHOT_RE.match(f.name), f) for f in folder.iterdir())
    return sorted((int(m.group(1)), f) for m, f in found if m)


def weights_file(run_path: str | os.PathLike, step: int | None) -> Path:
    """The file the weights of ``step`` come from; None: latest.pt, else the newest snapshot."""
    if step is not None:
        return snapshot_file(run_path, step)
    latest = Path(run_path) / Run.LATEST
    if latest.exists():
        return latest
    snaps = snapshot_files(run_path)
    return snaps[-1][1] if snaps else latest


# --------------------------------------------------------------------------- Run

class Run:
    """A training run's folder. Open with :meth:`open`, make with :meth:`create`."""

    RUN_JSON = "run.json"
    TOKENIZER_JSON = "tokenizer.json"
    METRICS_CSV = "metrics.csv"
    LATEST = "latest.pt"
    CHECKPOINTS = "checkpoints"

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self._tokenizer = None
        self._metrics_fh: io.TextIOWrapper | None = None
        self.info = self._read_info()

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Run) and self.path.resolve() == other.path.resolve()

    def __hash__(self) -> int:
        return hash(str(self.path.resolve()))

    # ---- creating and opening

    @classmethod
    def create(cls, name: str | None, model_cfg, train_cfg, corpus_record: dict, tokenizer,
               *, device: str | None = None) -> Run:
        """Make a new run folder (the name is sanitised and made unique) and return it."""
        model_dict = _config_dict(model_cfg)
        train_dict = _config_dict(train_cfg)
        runs = paths.runs_dir()
        base = sanitize_name(name) if name else default_run_name(corpus_record, model_dict)
        final = _unique_name(base, runs)
        tok_json = tokenizer.to_json()
        now = time.time()
        info = {
            "format_version": FORMAT_VERSION,
            "name": final,
            "created": datetime.fromtimestamp(now).isoformat(timespec="seconds"),
            "updated": now,
            "model": model_dict,
            "train": train_dict,
            "corpus": dict(corpus_record),
            "tokenizer": {"kind": getattr(tokenizer, "kind", tok_json.get("kind")),
                          "vocab_size": int(tokenizer.vocab_size)},
            "device": device,
            "status": "created",
            "step": 0,
            "best_val_loss": None,
            "last_val_loss": None,
            "message": None,
        }
        # Build it under a temporary name so a half-made run never shows up in the list.
        try:
            tmp = Path(tempfile.mkdtemp(prefix=f".{final}.", dir=runs))
        except OSError as exc:  # a read-only or full runs folder
            raise _disk_error(f"create the run '{final}'", exc) from exc
        try:
            atomic.write_json(tmp / cls.TOKENIZER_JSON, tok_json)
            atomic.write_json(tmp / cls.RUN_JSON, info)
            (tmp / cls.CHECKPOINTS).mkdir()
            final = _unique_name(final, runs)  # lost a race? take the next free name
            if final != info["name"]:
                info["name"] = final
                atomic.write_json(tmp / cls.RUN_JSON, info)
            os.rename(tmp, runs / final)
        except OSError as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            raise _disk_error(f"create the run '{final}'", exc) from exc
        except Exception:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return cls(runs / final)

    @classmethod
    def open(cls, name_or_path: str | os.PathLike) -> Run:
        """Open a run by name (in the runs folder), by folder path, or ``"latest"``."""
        if isinstance(name_or_path, Run):
            return name_or_path
        text = str(name_or_path)
        if text == "latest":
            runs = list_runs()
            if not runs:
                raise CheckpointError("There are no runs yet.", "Train a model first.")
            return runs[0]
        candidate = Path(text).expanduser()
        if candidate.is_dir() and (candidate / cls.RUN_JSON).exists():
            return cls(candidate)
        by_name = paths.runs_dir() / text
        if os.sep not in text and "/" not in text and (by_name / cls.RUN_JSON).exists():
            return cls(by_name)
        names = [r.name for r in list_runs()[:5]]
        hint = f"Recent runs: {', '.join(names)}." if names else "Train a model first."
        raise CheckpointError(f"There is no run called '{text}'.", hint)

    def _read_info(self) -> dict:
        file = self.path / self.RUN_JSON
        if not file.exists():
            raise CheckpointError(f"'{self.path}' is not a run folder (run.json is missing).",
                                  "Open a folder made by LLM Playground.")
        try:
            info = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CheckpointError(f"The run description {file} is damaged ({exc}).",
                                  "Delete the run, or fix run.json by hand.") from exc
        if not isinstance(info, dict) or not isinstance(info.get("model"), dict):
            raise CheckpointError(f"{file} is not an LLM Playground run description.")
        if info.get("format_version", 0) > FORMAT_VERSION:
            raise CheckpointError(
                f"Run '{self.path.name}' was made by a newer version of LLM Playground.",
                "Update the app to open it.")
        return info

    def reload(self) -> dict:
        self.info = self._read_info()
        return self.info

    def update(self, touch: bool = True, **fields: Any) -> None:
        """Change fields of run.json and write it atomically (``touch``: count as activity)."""
        self.info.update(fields)
        if touch:
            self.info["updated"] = time.time()
        try:
            atomic.write_json(self.path / self.RUN_JSON, self.info)
        except OSError as exc:
            raise _disk_error(f"save run '{self.name}' (run.json)", exc, TrainingError) from exc

    # ---- what it holds

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def status(self) -> str:
        return self.info.get("status", "created")

    @property
    def step(self) -> int:
        return int(self.info.get("step") or 0)

    @property
    def corpus_record(self) -> dict:
        return self.info.get("corpus", {})

    @property
    def model_config(self):

        return ModelConfig.from_dict(self.info["model"])

    @property
    def train_config(self):

        known = {f.name for f in dataclasses.fields(TrainConfig)}
        return TrainConfig(**{k: v for k, v in self.info.get("train", {}).items() if k in known})

    @property
    def tokenizer(self):
        if self._tokenizer is None:
            from playground.core.tokenizers import tokenizer_from_json

            file = self.path / self.TOKENIZER_JSON
            try:
                data = json.loads(file.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise CheckpointError(f"The tokenizer of run '{self.name}' is missing or damaged ({exc}).",
                                      "Train the run again.") from exc
            self._tokenizer = tokenizer_from_json(data)
        return self._tokenizer

    def disk_size(self) -> int:
        """Bytes used by the run folder."""
        return sum(f.stat().st_size for f in self.path.rglob("*") if f.is_file())

    # ---- metrics.csv

    @property
    def metrics_path(self) -> Path:
        return self.path / self.METRICS_CSV

    def _open_metrics(self) -> io.TextIOWrapper:
        file = self.metrics_path
        if file.exists() and file.stat().st_size:
            # A crash mid-write can leave a torn last line: cut it off before appending.
            with open(file, "rb+") as fh:
                data = fh.read()
                if not data.endswith(b"\n"):
                    fh.truncate(data.rfind(b"\n") + 1)
        new = not file.exists() or file.stat().st_size == 0
        fh = open(file, "a", encoding="utf-8", newline="")
        if new:
            fh.write(",".join(METRIC_FIELDS) + "\n")
            fh.flush()
        return fh

    def append_metrics(self, row: dict) -> None:
        """Append one row (keys from METRIC_FIELDS; missing ones left blank) and flush it."""
        try:
            self._write_metrics_row(row)
        except OSError as exc:
            self.close_metrics_quietly()
            raise _disk_error(f"append to the metrics of run '{self.name}'", exc, TrainingError) from exc

    def _write_metrics_row(self, row: dict) -> None:
        if self._metrics_fh is None or self._metrics_fh.closed:
            self._metrics_fh = self._open_metrics()
        values = []
        for key in METRIC_FIELDS:
            v = row.get(key)
            if v is None:
                values.append("")
            elif isinstance(v, float):
                values.append(repr(v) if key != "time" else f"{v:.3f}")  # repr round-trips
            else:
                values.append(str(v))
        self._metrics_fh.write(",".join(values) + "\n")
        self._metrics_fh.flush()

    def close_metrics_quietly(self) -> None:
        """Close after a failed write: the flush on close may fail again (same full disk)."""
        try:
            self.close_metrics()
        except OSError:
            self._metrics_fh = None

    def close_metrics(self) -> None:
        if self._metrics_fh is not None and not self._metrics_fh.closed:
            self._metrics_fh.close()
        self._metrics_fh = None

    def metrics(self, kind: str | None = None) -> list[dict]:
        """Rows of metrics.csv with numbers parsed (blank -> None); a torn last line is skipped."""
        file = self.metrics_path
        if not file.exists():
            return []
        text = file.read_text(encoding="utf-8", errors="replace")
        if text and not text.endswith("\n"):
            text = text[: text.rfind("\n") + 1]
        rows = []
        for raw in csv.DictReader(io.StringIO(text)):
            if None in raw or any(raw.get(k) is None for k in METRIC_FIELDS):
                continue  # wrong number of fields
            if kind is not None and raw["kind"] != kind:
                continue
            row: dict[str, Any] = {"kind": raw["kind"]}
            try:
                for key in METRIC_FIELDS[1:]:
                    v = raw[key]
                    row[key] = None if v == "" else (int(v) if key in _INT_FIELDS else float(v))
            except ValueError:
                continue
            rows.append(row)
        return rows

    def truncate_metrics(self, after_it: int) -> None:
        """Drop rows past ``after_it`` (steps redone after resuming from an earlier checkpoint;
        ``-1``: all of them). This is what keeps each (kind, it) in metrics.csv once."""
        self.close_metrics()
        try:
            rows = self.metrics()
        except OSError as exc:  # an unreadable metrics.csv: words, not a raw error
            raise _disk_error(f"read the metrics of run '{self.name}'", exc, TrainingError) from exc
        if not self.metrics_path.exists():
            return
        kept = [r for r in rows if r["it"] is not None and r["it"] <= after_it]
        buf = io.StringIO()
        buf.write(",".join(METRIC_FIELDS) + "\n")
        for r in kept:
            buf.write(",".join("" if r.get(k) is None else str(r[k]) for k in METRIC_FIELDS) + "\n")
        try:
            atomic.write_text(self.metrics_path, buf.getvalue())
        except OSError as exc:
            raise _disk_error(f"rewrite the metrics of run '{self.name}'", exc, TrainingError) from exc

    def evals(self) -> list[tuple[int, float, float]]:
        """(it, train_loss, val_loss) of every evaluation, for plots and overfitting checks."""
        return [(r["it"], r["train_loss"], r["val_loss"]) for r in self.metrics("eval")]

    # ---- checkpoints

    @property
    def checkpoints_dir(self) -> Path:
        return self.path / self.CHECKPOINTS

    @property
    def latest_path(self) -> Path:
        return self.path / self.LATEST

    def has_latest(self) -> bool:
        return self.latest_path.exists()

    def snapshot_path(self, step: int) -> Path:
        return snapshot_file(self.path, step)

    def save_snapshot(self, step: int, model, val_loss: float | None, keep: int = 20) -> Path:
        """Save the weights at ``step`` for the history slider, then apply the retention rule."""
        path = self.snapshot_path(step)
        _save_pt({"format_version": FORMAT_VERSION, "kind": "snapshot", "step": int(step),
                  "val_loss": None if val_loss is None else float(val_loss),
                  "model": _state_dict(model)}, path)
        self.prune_snapshots(keep)
        return path

    def prune_snapshots(self, keep: int = 20) -> None:
        snaps = dict(self.snapshots())
        for step in set(snaps) - set(retained_steps(list(snaps), keep)):
            snaps[step].unlink(missing_ok=True)

    def snapshots(self) -> list[tuple[int, Path]]:
        """(step, path) of every saved snapshot, oldest first."""
        return snapshot_files(self.path)

    def save_latest(self, state: dict) -> Path:
        """Save the full training state (weights, optimizer, RNG, step...) for resuming."""
        if "step" not in state or "model" not in state:
            raise ValueError("latest state needs at least 'step' and 'model'")
        _save_pt({"format_version": FORMAT_VERSION, "kind": "latest", **state}, self.latest_path)
        return self.latest_path

    def load_latest(self, map_location: Any = "cpu") -> dict:
        state = _load_pt(self.latest_path, map_location)
        if "model" not in state or "step" not in state:
            raise CheckpointError(f"latest.pt of run '{self.name}' is incomplete.",
                                  "Pick a saved snapshot instead, or train again.")
        return state

    def load_snapshot(self, step: int, map_location: Any = "cpu") -> dict:
        return _load_pt(self.snapshot_path(step), map_location)

    def saved_step(self) -> int:
        """The furthest step whose weights are on disk (0: nothing trained was saved).

        run.json's step is written just after each checkpoint, so a run killed in between has a
        newer latest.pt; only when nothing else shows progress is latest.pt itself opened.
        """
        step = max([self.step, *(s for s, _ in self.snapshots())])
        if step == 0 and self.has_latest():
            try:
                step = int(self.load_latest().get("step", 0))
            except CheckpointError:  # unreadable: there is no progress to keep
                pass
        return step

    def reset(self) -> None:
        """Forget every trained step: weights, snapshots and metrics go, settings, text and
        tokenizer stay, and the run is "created" again (``playground train --restart``).

        The caller holds the run's lock (``run_lock.acquire``): nobody may be training it.
        """
        self.close_metrics()
        try:
            for _step, path in self.snapshots():
                path.unlink(missing_ok=True)
            self.latest_path.unlink(missing_ok=True)
            self.metrics_path.unlink(missing_ok=True)
        except OSError as exc:
            raise _disk_error(f"clear run '{self.name}' for a new start", exc) from exc
        self.info.pop("interrupted", None)
        self.update(status="created", step=0, best_val_loss=None, last_val_loss=None, message=None)

    def discard_unstarted(self) -> bool:
        """Delete this run's folder if it holds no weights at all: a training refused or failed
        before its first checkpoint left nothing to resume or look at, and an empty run would
        otherwise become ``--run latest``. Returns whether the folder was deleted."""
        if self.has_latest() or self.snapshots():
            return False
        self.close_metrics()
        shutil.rmtree(self.path, ignore_errors=True)
        return not self.path.exists()

    def load_model(self, step: int | None = None, device: Any = "cpu"):
        """The model at ``step`` (a snapshot), or the newest weights when None, in eval mode."""
        import torch

        from playground.core.model import build_model

        if step is None:
            if self.latest_path.exists():
                state = self.load_latest(map_location=device)
            elif self.snapshots():
                state = self.load_snapshot(self.snapshots()[-1][0], map_location=device)
            else:
                raise CheckpointError(f"Run '{self.name}' has no saved weights yet.",
                                      "Train it for at least one evaluation interval.")
        else:
            state = self.load_snapshot(step, map_location=device)
        model = build_model(self.model_config)
        try:
            model.load_state_dict(state["model"])
        except (RuntimeError, KeyError) as exc:
            raise CheckpointError(
                f"The saved weights of run '{self.name}' do not fit its model configuration.",
                "The run folder may have been edited; train it again.") from exc
        return model.to(torch.device(device) if isinstance(device, str) else device).eval()

    # ---- housekeeping

    def rename(self, new_name: str) -> Run:
        """Rename the run folder (and run.json's name). Returns self, now at the new path."""
        clean = sanitize_name(new_name)
        if clean == self.name:
            return self
        target = self.path.parent / clean
        if target.exists():
            raise CheckpointError(f"A run called '{clean}' already exists.", "Choose another name.")
        self.close_metrics()
        os.rename(self.path, target)
        self.path = target
        self.update(touch=False, name=clean)
        return self

    def delete(self) -> Path:
        """Move the run to the trash folder (for Undo); returns where it went."""
        self.close_metrics()
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        trash = paths.trash_dir()
        dest = trash / _unique_name(f"{self.name}--{stamp}", trash)
        shutil.move(str(self.path), str(dest))
        return dest


def restore(trash_path: str | os.PathLike) -> Run:
    """Move a deleted run back from the trash (under its old name, or a free one)."""
    src = Path(trash_path)
    if not (src / Run.RUN_JSON).exists():
        raise CheckpointError(f"'{src}' is not a deleted run.", "It may have been emptied from the trash.")
    info = json.loads((src / Run.RUN_JSON).read_text(encoding="utf-8"))
    runs = paths.runs_dir()
    name = _unique_name(sanitize_name(info.get("name") or src.name.split("--")[0]), runs)
    shutil.move(str(src), str(runs / name))
    run = Run(runs / name)
    if run.info.get("name") != name:
        run.update(name=name)
    return run


def list_runs() -> list[Run]:
    """Every readable run, most recently active first (damaged folders are skipped)."""
    runs = []
    for folder in paths.runs_dir().iterdir():
        if folder.name.startswith(".") or not (folder / Run.RUN_JSON).is_file():
            continue
        try:
            runs.append(Run(folder))
        except CheckpointError:
            continue

    def activity(run: Run) -> float:
        updated = run.info.get("updated")
        return float(updated) if isinstance(updated, (int, float)) else (run.path / Run.RUN_JSON).stat().st_mtime

    return sorted(runs, key=lambda r: (activity(r), r.name), reverse=True)


# --------------------------------------------------------------------------- zip export/import

def export_zip(run: Run, path: str | os.PathLike) -> Path:
    """Write the whole run as one .zip (files under a folder named after the run)."""
    run.close_metrics()
    path = Path(path)
    with atomic.atomic_path(path) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for f in sorted(run.path.rglob("*")):
                if f.is_file() and not f.name.startswith("."):
                    zf.write(f, f"{run.name}/{f.relative_to(run.path).as_posix()}")
    return path


# The largest honest run: GPT-2 124M with 20 weight snapshots (0.5 GB each) and latest.pt with
# AdamW's moments (1.5 GB) is about 11.5 GB; anything past 20 GB is not a run.
_MAX_IMPORT_BYTES = 20 * 1024**3
# Weights barely compress (about 1.1:1) and the text files of a run about 5:1; a zip that claims
# 100 times its own size is built to fill the disk.
_MAX_RATIO = 100
_DISK_MARGIN = 200 * 1024**2  # leave this much free after unpacking


def import_zip(path: str | os.PathLike) -> Run:
    """Unpack a run exported by :func:`export_zip` into the runs folder (under a free name)."""
    path = Path(path)
    try:
        zf = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise CheckpointError(f"'{path.name}' is not a readable .zip file ({exc}).",
                              "Export the run again and copy the whole file.") from exc
    with zf:
        members = [m for m in zf.infolist() if not m.is_dir()]
        tops = set()
        total = 0
        for m in members:
            parts = Path(m.filename.replace("\\", "/")).parts
            name = m.filename.replace("\\", "/")
            if (name.startswith("/") or re.match(r"^[A-Za-z]:", name) or ".." in parts
                    or len(parts) < 2 or (m.external_attr >> 16) & 0o170000 == 0o120000):
                raise CheckpointError(f"'{path.name}' contains an unsafe path ({m.filename!r}); not imported.",
                                      "Only import runs exported by LLM Playground.")
            tops.add(parts[0])
            total += m.file_size
        if len(tops) != 1 or f"{next(iter(tops))}/{Run.RUN_JSON}" not in {m.filename for m in members}:
            raise CheckpointError(f"'{path.name}' is not an exported run (no single run folder with run.json).",
                                  "Export the run from LLM Playground and import that file.")
        packed = sum(m.compress_size for m in members)
        if total > _MAX_IMPORT_BYTES or (total > 1024**2 and total > _MAX_RATIO * max(packed, 1)):
            raise CheckpointError(
                f"'{path.name}' would unpack to {total / 1e9:.2f} GB from {packed / 1e6:.1f} MB; not imported: "
                "no exported run is that large or compresses that much.",
                "Only import runs exported by LLM Playground.")
        top = next(iter(tops))
        runs = paths.runs_dir()
        free = shutil.disk_usage(runs).free
        if total + _DISK_MARGIN > free:
            raise CheckpointError(
                f"'{path.name}' needs {total / 1e9:.2f} GB but only {free / 1e9:.2f} GB is free on the disk "
                "of the runs folder; nothing was unpacked.",
                "Free some disk space (delete old runs), then import it again.")
        tmp = Path(tempfile.mkdtemp(prefix=".import.", dir=runs))
        try:
            for m in members:
                rel = Path(*Path(m.filename.replace("\\", "/")).parts[1:])
                dest = tmp / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(m) as src, open(dest, "wb") as out:
                    shutil.copyfileobj(src, out)
            run = Run(tmp)  # validates run.json
            name = _unique_name(sanitize_name(run.info.get("name") or top), runs)
            os.rename(tmp, runs / name)
        except OSError as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            raise _disk_error("import the run", exc) from exc
        except Exception:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    run = Run(runs / name)
    fields: dict[str, Any] = {"name": name}
    if run.status == "training":  # it was exported mid-training: it is not training here
        fields["status"] = "stopped"
    run.update(**fields)
    return run
