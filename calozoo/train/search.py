"""Hyper-parameter search with Optuna (the ``[tune]`` extra): ``calozoo tune`` and ``tune()``.

A study lives in an Optuna RDB storage (SQLite by default; a PostgreSQL or MySQL URL lets
workers on many nodes share it). Every worker runs the same loop: claim a trial while fewer
than ``trials`` trials are done or running, sample a recipe from the model's search space,
train it for the step budget, score it on held-out showers after every report interval (the
pruner may stop it there), and record the result. Workers send a heartbeat while they train;
the trial of a worker that was killed is marked failed by the next worker that looks, and
another trial takes its place, so killing a worker loses at most its running trial.
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from calozoo import registry
from calozoo.train.recipes import (CPU_BATCH_SIZES, SEARCH_SPACES, Recipe, read_settings,
                                   recipe as recipe_of, write_recipe)

OBJECTIVES = ("separation", "fpd")
"""Validation scores a study minimises: the mean separation power of the high-level
observables (0 = identical distributions, 1 = disjoint), or the Fréchet physics distance."""
PRUNERS = ("median", "hyperband", "none")
INTEGER_SETTINGS = frozenset({"batch_size", "generator_steps", "warmup_epochs",
                              "files_per_epoch"})
HEARTBEAT_SECONDS = 10
"""How often a worker tells the storage that its trial is alive."""
GRACE_SECONDS = 60
"""A running trial with no heartbeat for this long belongs to a dead worker: it is failed."""
SCORE_BOOTSTRAP = 20
"""Bootstrap replicas behind the error of a trial's final score (intermediate scores, which
only the pruner reads, have none)."""
VALIDATION_SEED_OFFSET = 7_919_000
"""Held-out showers are simulated with seed + this, a seed the training data never uses."""


# the search space ------------------------------------------------------------------------

def search_space(name: str, space_file: str | os.PathLike | None = None, *,
                 on_cpu: bool | None = None) -> dict[str, dict]:
    """The search space of ``name``: ``SEARCH_SPACES[name]``, changed by a JSON/YAML file.

    On a machine without an accelerator (``on_cpu``; None: look) the batch sizes are
    ``CPU_BATCH_SIZES[name]`` instead, the ones a CPU trains within a tuning budget.

    The file maps settings to a range ``{"low": a, "high": b, "log": true}``, to choices
    ``{"choices": [...]}``, to a fixed value (a number: not searched), or to ``null`` (not
    searched: the published recipe's value). Settings are ``Recipe`` fields or
    ``loss_weights.HEAD``; those the file does not name keep their default entry.
    """
    name = registry.entry(name).name
    space = {key: dict(spec) for key, spec in SEARCH_SPACES[name].items()}
    if on_cpu is None:
        from calozoo.generation import on_accelerator
        on_cpu = not on_accelerator()
    if on_cpu:
        space["batch_size"] = {"choices": list(CPU_BATCH_SIZES[name])}
    if space_file is not None:
        for key, value in read_settings(space_file, "search space").items():
            if value is None:
                space.pop(key, None)
            elif isinstance(value, dict):
                space[key] = dict(value)
            else:
                space[key] = {"value": value}
    base = recipe_of(name)
    for key, spec in space.items():
        _check_entry(key, spec, base, space_file)
    return space


def _check_entry(key: str, spec: dict, base: Recipe, where) -> None:
    origin = f"{where}: " if where is not None else ""

    def fail(reason: str):
        raise ValueError(f"{origin}search space entry {key!r}: {reason}")

    kinds = [kind for kind in ("value", "choices", "low") if kind in spec]
    unknown = set(spec) - {"value", "choices", "low", "high", "log"}
    if len(kinds) != 1 or unknown:
        fail("give a range {low, high[, log]}, {choices: [...]} or a fixed value")
    if "choices" in spec:
        choices = spec["choices"]
        if not isinstance(choices, list) or not choices:
            fail("choices must be a non-empty list")
        samples = choices
    elif "low" in spec:
        low, high = spec.get("low"), spec.get("high")
        if not all(isinstance(bound, (int, float)) and not isinstance(bound, bool) and
                   math.isfinite(bound) for bound in (low, high)) or not low < high:
            fail(f"needs numbers low < high, got low={low!r}, high={high!r}")
        if spec.get("log") and low <= 0:
            fail("a log range needs low > 0")
        if key in INTEGER_SETTINGS and not (float(low).is_integer() and
                                            float(high).is_integer()):
            fail(f"{key} is a whole number; give whole bounds")
        samples = [int(low), int(high)] if key in INTEGER_SETTINGS else [low, high]
    else:
        samples = [spec["value"]]
    for sample in samples:
        try:
            base.replace({key: sample})
        except (TypeError, ValueError) as error:
            fail(str(error).removeprefix("recipe: "))


def sample_recipe(trial, space: dict[str, dict], base: Recipe) -> Recipe:
    """The recipe of one trial: ``base`` with each searched setting drawn by ``trial``."""
    values = {}
    for key in sorted(space):
        spec = space[key]
        if "value" in spec:
            values[key] = spec["value"]
        elif "choices" in spec:
            values[key] = trial.suggest_categorical(key, spec["choices"])
        elif key in INTEGER_SETTINGS:
            values[key] = trial.suggest_int(key, int(spec["low"]), int(spec["high"]),
                                            log=bool(spec.get("log")))
        else:
            values[key] = trial.suggest_float(key, float(spec["low"]), float(spec["high"]),
                                              log=bool(spec.get("log")))
    return base.replace(values)


# the score -------------------------------------------------------------------------------

def validation_score(generator, reference, objective: str = "separation", *,
                     seed: int = 0, bootstrap: int = 0) -> tuple[float, float]:
    """How far ``generator``'s showers are from the held-out ``reference`` (lower is better),
    and its standard error.

    The generator makes one shower per reference shower, at the same energy (and angle);
    ``objective`` is ``"separation"`` (mean separation power of the high-level observables,
    :func:`calozoo.metrics.compare`) or ``"fpd"``. The error comes from ``bootstrap``
    replicas of the comparison (0: NaN, except FPD's own); for the mean of separation powers
    it treats the observables' errors (the cell spectrum's among them) as independent. A
    generator whose showers are not finite scores NaN.
    """
    from calozoo.metrics import compare

    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
    showers = generator.generate(reference.energies, reference.angles, seed=seed)
    if not np.all(np.isfinite(showers)):
        return float("nan"), float("nan")
    result = compare(reference, (showers, reference.energies, reference.angles),
                     classifier=False, bootstrap=bootstrap, seed=seed)
    if objective == "fpd":
        return float(result["fpd"]), float(result.get("fpd_error", float("nan")))
    keys = [key for key, value in result.items()
            if key.startswith("separation/") and key.count("/") == 1
            and not key.endswith("_error") and np.isfinite(value)]
    if not keys:
        return float("nan"), float("nan")
    score = float(np.mean([result[key] for key in keys]))
    errors = np.array([result.get(f"{key}_error", np.nan) for key in keys])
    if not bootstrap or not np.isfinite(errors).any():
        return score, float("nan")
    return score, float(np.sqrt(np.sum(errors[np.isfinite(errors)] ** 2)) / len(keys))


# the study -------------------------------------------------------------------------------

def _optuna():
    try:
        import optuna
    except ImportError:
        raise ImportError("calozoo tune needs Optuna: pip install 'calozoo[tune]'") from None
    return optuna


@contextlib.contextmanager
def _quiet_optuna() -> Iterator[None]:
    """Optuna marks the heartbeat API experimental, and warns when it is used outside
    ``Study.optimize`` (calozoo sends the heartbeats itself)."""
    import warnings

    optuna = _optuna()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed")
        yield


def open_study(storage: str, study: str, *, direction: str = "minimize", pruner=None,
               sampler=None, grace_seconds: int | None = GRACE_SECONDS):
    """Create or join the study ``study`` in the RDB ``storage`` (an SQLAlchemy URL).

    Workers send a heartbeat every ``grace_seconds / 3`` (at most ``HEARTBEAT_SECONDS``); a
    running trial silent for ``grace_seconds`` is failed (None: no heartbeats)."""
    optuna = _optuna()
    if "://" not in storage:
        raise ValueError(f"--storage must be a database URL such as sqlite:///study.db, got "
                         f"{storage!r}")
    beat = None if grace_seconds is None else \
        max(1, min(HEARTBEAT_SECONDS, int(grace_seconds) // 3))
    for attempt in range(3):
        try:
            # workers started together would otherwise race to create the tables
            with _claim_lock(storage), _quiet_optuna():
                rdb = optuna.storages.RDBStorage(storage, heartbeat_interval=beat,
                                                 grace_period=grace_seconds)
                return optuna.create_study(storage=rdb, study_name=study,
                                           direction=direction, pruner=pruner,
                                           sampler=sampler, load_if_exists=True)
        except ImportError as error:      # a driver (psycopg2, PyMySQL) not installed
            raise ImportError(f"{storage.split('://')[0]}: {error}") from None
        except Exception as error:        # SQLAlchemy's errors, e.g. an unreachable server
            if not type(error).__module__.startswith(("sqlalchemy", "optuna")):
                raise
            if "already exists" in str(error) and attempt < 2:   # another worker's tables
                time.sleep(1.0)
                continue
            raise ValueError(f"storage {storage}: {type(error).__name__}: "
                             f"{str(error).splitlines()[0]}") from None


@contextlib.contextmanager
def _claim_lock(storage: str) -> Iterator[None]:
    """Serialise "count the trials, then start one" among workers on one SQLite file (an
    advisory lock beside it); server databases are shared across nodes, where two workers
    that claim at the same instant may start one trial more than asked."""
    if not storage.startswith("sqlite:///") or storage == "sqlite:///:memory:":
        yield
        return
    import fcntl

    path = Path(storage.removeprefix("sqlite:///"))
    with open(path.with_name(path.name + ".calozoo-lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _counted(study) -> int:
    """Trials that count towards the study's total: all but the failed ones."""
    optuna = _optuna()
    states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED,
              optuna.trial.TrialState.RUNNING, optuna.trial.TrialState.WAITING)
    return len(study.get_trials(deepcopy=False, states=states))


def _claim(study, storage: str, trials: int):
    """A new trial of ``study``, or None when ``trials`` are done or running."""
    optuna = _optuna()
    with _claim_lock(storage), _quiet_optuna():
        optuna.storages.fail_stale_trials(study)
        if _counted(study) >= trials:
            return None
        trial = study.ask()
        _beat(study, trial)     # at once: a trial that never beat would never be failed
        return trial


def _heartbeat_interval(study) -> int | None:
    """Seconds between heartbeats of the study's storage (None: it takes none)."""
    storage = study._storage
    return storage.get_heartbeat_interval() if hasattr(storage, "record_heartbeat") else None


def _beat(study, trial) -> None:
    if _heartbeat_interval(study) is not None:
        study._storage.record_heartbeat(trial._trial_id)


@contextlib.contextmanager
def _heartbeat(study, trial) -> Iterator[None]:
    interval = _heartbeat_interval(study)
    if interval is None:
        yield
        return
    stop = threading.Event()

    def beat():
        while True:
            _beat(study, trial)
            if stop.wait(interval):
                return

    thread = threading.Thread(target=beat, name=f"calozoo-heartbeat-{trial.number}",
                              daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _pruner(kind: str, reports: int, budget_steps: int):
    optuna = _optuna()
    if kind == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0)
    if kind == "hyperband":
        interval = max(1, budget_steps // reports)
        return optuna.pruners.HyperbandPruner(min_resource=interval, max_resource=budget_steps,
                                              reduction_factor=3)
    return optuna.pruners.NopPruner()


def report_points(budget_steps: int, reports: int) -> list[int]:
    """Steps after which a trial is scored: ``reports`` evenly spaced, the last at the end."""
    reports = max(1, min(reports, budget_steps))
    return sorted({round(budget_steps * (index + 1) / reports) for index in range(reports)})


def tune(name: str, data=None, *, trials: int, storage: str, study: str | None = None,
         budget_steps: int = 100, reports: int = 4, simulate: int = 0,
         detector: str = "clic-wsi", validation=None, validation_showers: int = 500,
         objective: str = "separation", pruner: str = "median",
         space: str | os.PathLike | None = None, weights=None, seed: int = 0,
         precision: str = "float32", workers: int | None = 1,
         out_dir: str | os.PathLike | None = None, sampler_seed: int | None = None,
         grace_seconds: int = GRACE_SECONDS, log: Callable[[str], None] | None = None):
    """Search ``name``'s recipe with Optuna; returns the study.

    Parameters
    ----------
    data, simulate, detector
        Training showers: file path(s), or ``simulate`` showers per epoch of ``detector``.
    trials
        Trials of the whole study: this worker stops once that many are done or running
        (failed trials do not count), so workers started with the same number share it.
    storage, study
        Optuna RDB storage URL (``sqlite:///study.db``, ``postgresql://...``) and study name
        (default ``calozoo-NAME``); the study is created or joined.
    budget_steps, reports
        Training batches per trial, and how many times a trial is scored on the way (the
        pruner may stop it after each).
    validation, validation_showers
        Held-out showers scored against: a file path or Showers; by default, with
        ``simulate``, ``validation_showers`` simulated with a seed the training data never
        uses, and with files, the last file (which then does not train).
    objective
        ``"separation"`` or ``"fpd"`` (see :func:`validation_score`); minimised.
    pruner
        ``"median"`` (stop a trial whose score is worse than the median of earlier trials at
        the same step, after 2 trials), ``"hyperband"`` or ``"none"``.
    space
        A JSON/YAML file that changes the search space (:func:`search_space`).
    weights
        Start every trial from these weights (fine-tuning: ``"default"``, a tag, a path, a
        run directory); None trains from scratch.
    seed, precision, workers
        The training's seed (the same in every trial, so that trials differ only in their
        settings), precision and simulation processes.
    out_dir
        Where this worker writes ``best_recipe.json`` (for ``calozoo train --recipe``) and
        the summary (``summary.html``, ``history.png``, ``importances.png``).
    sampler_seed
        Seed of the TPE sampler (None: fresh entropy; give different seeds to different
        workers of one study).
    grace_seconds
        A running trial whose worker sent no heartbeat for this long is marked failed (its
        worker died) by the next worker that claims a trial.
    log
        Called with one line per trial event (start, each score, end).
    """
    optuna = _optuna()
    from calozoo.train.finetune import _starting_point, check_arguments, training_data
    from calozoo.train.trainer import Trainer

    entry = registry.entry(name)
    name = entry.name
    for value, label, minimum in ((trials, "trials", 1), (budget_steps, "budget_steps", 1),
                                  (reports, "reports", 1), (grace_seconds, "grace_seconds", 3),
                                  (validation_showers, "validation_showers", 2)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or \
                value < minimum:
            raise ValueError(f"{label} must be a whole number ≥ {minimum}, got {value!r}")
    check_arguments(epochs=1, simulate=simulate, batch_size=None, seed=seed, max_minutes=None,
                    workers=workers, keep_checkpoints=None)
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
    if pruner not in PRUNERS:
        raise ValueError(f"pruner must be one of {PRUNERS}, got {pruner!r}")
    if precision not in ("float32", "bfloat16"):
        raise ValueError(f"precision must be 'float32' or 'bfloat16', got {precision!r}")
    searched = search_space(name, space)
    base = recipe_of(name)
    training, reference = _data_and_reference(name, data, simulate, detector, validation,
                                              validation_showers, seed)
    log = log or (lambda message: None)
    points = report_points(budget_steps, reports)
    handle = open_study(storage, study or f"calozoo-{name}",
                        pruner=_pruner(pruner, reports, budget_steps),
                        sampler=optuna.samplers.TPESampler(seed=sampler_seed),
                        grace_seconds=grace_seconds)
    start_from = _starting_point(name, weights) if weights is not None else (None, None)

    def run_trial(trial) -> float:
        settings = sample_recipe(trial, searched, base)
        trial.set_user_attr("recipe_changes", settings.changes_from(base))
        with tempfile.TemporaryDirectory(prefix=f"calozoo-tune-{trial.number}-") as scratch:
            generator, discriminator = start_from
            trainer = Trainer(name, scratch, generator=generator, discriminator=discriminator,
                              recipe=settings, seed=seed, precision=precision)
            source = training_data(name, training, simulate=simulate, detector=detector,
                                   batch_size=settings.batch_size, seed=seed, workers=workers)
            done, score = 0, float("nan")
            with source:
                for step in points:
                    clock = time.monotonic()
                    trainer.train_steps(source, step - done)
                    done = step
                    trainer.sync_models()
                    trained = time.monotonic() - clock
                    final = step == points[-1]
                    # the last score, the trial's result, with its error
                    score, error = validation_score(trainer.generator, reference, objective,
                                                    seed=seed,
                                                    bootstrap=SCORE_BOOTSTRAP if final else 0)
                    if final:
                        trial.set_user_attr("score_error", error)
                    shown = f"{score:.4f}" + (f" ± {error:.4f}" if math.isfinite(error) else "")
                    log(f"trial {trial.number}: step {step}/{budget_steps} (batch "
                        f"{settings.batch_size}), {objective} {shown} ({trained:.0f} s "
                        f"training, {time.monotonic() - clock - trained:.0f} s scoring)")
                    if not math.isfinite(score):
                        trial.set_user_attr("stopped", "the generator's showers are not "
                                                       "finite (training diverged)")
                        raise optuna.TrialPruned()
                    trial.report(score, step)
                    if step < budget_steps and trial.should_prune():
                        raise optuna.TrialPruned()
            return score

    while True:
        trial = _claim(handle, storage, trials)
        if trial is None:
            break
        log(f"trial {trial.number}: started")
        started = time.monotonic()
        with _heartbeat(handle, trial):
            try:
                score = run_trial(trial)
            except optuna.TrialPruned:
                handle.tell(trial, state=optuna.trial.TrialState.PRUNED)
                log(f"trial {trial.number}: pruned ({time.monotonic() - started:.0f} s)")
                continue
            except BaseException:
                handle.tell(trial, state=optuna.trial.TrialState.FAIL)
                raise
        handle.tell(trial, score)
        log(f"trial {trial.number}: {objective} {score:.4f} "
            f"({time.monotonic() - started:.0f} s)")
    if out_dir is not None:
        write_outputs(handle, name, base, out_dir, storage=storage, objective=objective,
                      budget_steps=budget_steps)
    return handle


def _data_and_reference(name, data, simulate, detector, validation, validation_showers, seed):
    """(training source, held-out Showers) as the arguments of ``tune`` describe them."""
    from calozoo.data import Showers, load
    from calozoo.sim import simulate as simulate_showers

    if bool(data) == bool(simulate):
        raise ValueError("give either training files (--data) or --simulate N")
    if isinstance(validation, Showers):
        return data, validation
    if validation is not None:
        return data, load(validation)
    if data:
        paths = [data] if isinstance(data, (str, os.PathLike)) else list(data)
        if len(paths) < 2 or not all(isinstance(path, (str, os.PathLike)) for path in paths):
            raise ValueError("give --validation FILE, or at least two --data files (the last "
                             "is held out for scoring)")
        return paths[:-1], load(paths[-1])
    conditioning = registry.entry(name).conditioning
    rng = np.random.default_rng(seed + VALIDATION_SEED_OFFSET)
    energies = rng.uniform(*conditioning.energy_range, validation_showers)
    angles = (rng.uniform(*conditioning.angle_range, validation_showers)
              if "angle" in conditioning.conditions else None)
    geometry = "x".join(map(str, registry.entry(name).shape))
    reference = simulate_showers(energies, angles, geometry=geometry, detector=detector,
                                 seed=seed + VALIDATION_SEED_OFFSET)
    return None, reference


# the outputs -----------------------------------------------------------------------------

def best_trial(study):
    """The completed trial with the lowest score, or None."""
    optuna = _optuna()
    done = [trial for trial in study.get_trials(deepcopy=False,
                                                states=(optuna.trial.TrialState.COMPLETE,))
            if trial.value is not None and math.isfinite(trial.value)]
    return min(done, key=lambda trial: trial.value) if done else None


def write_outputs(study, name: str, base: Recipe, out_dir: str | os.PathLike, *, storage: str,
                  objective: str, budget_steps: int) -> Path | None:
    """``best_recipe.json`` and the summary of the study so far; the recipe's path (None
    when no trial completed)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    best = best_trial(study)
    path = None
    if best is not None:
        settings = base.replace(best.user_attrs.get("recipe_changes", {}))
        path = write_recipe(out / "best_recipe.json", name, settings, notes={
            "study": study.study_name, "storage": storage, "trial": best.number,
            "objective": objective, "score": best.value,
            "score_error": best.user_attrs.get("score_error"), "budget_steps": budget_steps,
            "changed_from_published": settings.changes_from(base)})
    _write_summary(study, out, objective, best)
    return path


def _write_summary(study, out: Path, objective: str, best) -> None:
    """summary.html with Optuna's optimisation history and parameter importances (PNG)."""
    import html
    import warnings

    from calozoo._files import publish, temporary_file

    optuna = _optuna()
    figures = []
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from optuna.visualization import matplotlib as plots
    except ImportError:
        plots = None
    if plots is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")     # Optuna marks its matplotlib plots experimental
            for file, title, draw in (("history.png", "Optimisation history",
                                       plots.plot_optimization_history),
                                      ("importances.png", "Parameter importances",
                                       plots.plot_param_importances)):
                try:
                    axes = draw(study)
                except (ValueError, RuntimeError):   # e.g. importances need two complete trials
                    continue
                figure = axes.figure if hasattr(axes, "figure") else axes[0].figure
                figure.set_size_inches(7, 4.5)
                figure.tight_layout()
                staging = temporary_file(out / file)
                figure.savefig(staging, dpi=150, format="png")
                publish(staging, out / file, overwrite=True)
                plt.close(figure)
                figures.append((file, title))
    states = [trial.state.name for trial in study.get_trials(deepcopy=False)]
    counts = ", ".join(f"{states.count(state)} {state.lower()}"
                       for state in ("COMPLETE", "PRUNED", "FAIL", "RUNNING")
                       if states.count(state))
    rows = "".join(
        f"<tr><td>{trial.number}</td><td>{trial.state.name.lower()}</td>"
        f"<td>{_score(trial)}</td>"
        f"<td>{html.escape(', '.join(f'{k}={_short(v)}' for k, v in sorted(trial.params.items())))}"
        "</td></tr>"
        for trial in study.get_trials(deepcopy=False))
    best_line = ("no trial has completed yet" if best is None else
                 f"best: trial {best.number}, {objective} {_score(best)} "
                 f"(<a href='best_recipe.json'>best_recipe.json</a>)")
    images = "".join(f"<h2>{title}</h2><img src='{file}' alt='{title}' width='700'>"
                     for file, title in figures)
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>{study.study_name}"
            f"</title></head><body><h1>Study {html.escape(study.study_name)}</h1>"
            f"<p>{counts}; objective: {objective} on held-out showers (lower is better); "
            f"{best_line}</p><p>± is the standard error of a trial's final score (bootstrap "
            f"over showers, {SCORE_BOOTSTRAP} replicas): trials within about two of them are "
            f"not told apart by the score.</p>{images}<h2>Trials</h2>"
            "<table border='1' cellpadding='3'>"
            f"<tr><th>trial</th><th>state</th><th>{objective}</th><th>parameters</th></tr>"
            f"{rows}</table><p>Optuna {optuna.__version__}</p></body></html>\n")
    staging = temporary_file(out / "summary.html")
    staging.write_text(page)
    publish(staging, out / "summary.html", overwrite=True)


def _score(trial) -> str:
    """A trial's score ± its error, as the summary prints it."""
    if trial.value is None:
        return ""
    error = trial.user_attrs.get("score_error")
    if error is None or not math.isfinite(error):
        return f"{trial.value:.4f}"
    return f"{trial.value:.4f} ± {error:.4f}"


def _short(value) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)
