"""The ``calozoo`` command line: thin wrappers over the Python API.

Errors print one line (no traceback) and exit with status 2.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

import calozoo
from calozoo import _files, registry

EXIT_ERROR = 2


def _format_conditions(conditions: Sequence[str]) -> str:
    units = {"energy": "energy [GeV]", "angle": "angle [deg]"}
    return ", ".join(units.get(condition, condition) for condition in conditions)


def cmd_list(args: argparse.Namespace) -> int:
    rows = [("name", "grid", "conditions", "generator", "discriminator", "weights")]
    for name in calozoo.list_models(args.pattern):
        info = calozoo.model_info(name)
        rows.append((
            name,
            "×".join(map(str, info.shape)),
            _format_conditions(info.conditions),
            f"{info.generator_params:,}",
            f"{info.discriminator_params:,}",
            ", ".join(info.weights) or "none yet",
        ))
    if len(rows) == 1:
        raise ValueError(f"no model matches {args.pattern!r}")
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for index, row in enumerate(rows):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
        if index == 0:
            print("  ".join("-" * width for width in widths))
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    info = calozoo.model_info(args.name)
    from calozoo import weights as weights_lib

    conditioning = registry.entry(args.name).conditioning
    ranges = {"energy_range": conditioning.energy_range, "angle_range": conditioning.angle_range}
    if info.weights:
        ranges.update(weights_lib.record(args.name).trained_ranges)
    low, high = ranges["energy_range"]
    lines = [
        f"name:                 {info.name}",
        f"description:          {info.description}",
        f"output grid (X,Y,Z):  {' × '.join(map(str, info.shape))} cells",
        f"conditions:           {_format_conditions(info.conditions)}",
        f"latent size:          {info.latent_size} N(0,1) values per shower",
        f"trained energies:     {low:g}–{high:g} GeV"
        + (" (default weights)" if info.weights else ""),
    ]
    if ranges.get("angle_range"):
        low, high = ranges["angle_range"]
        lines.append(f"trained angles:       {low:g}–{high:g} degrees (90 = perpendicular)")
    lines += [
        f"generator params:     {info.generator_params:,}",
        f"discriminator params: {info.discriminator_params:,}",
        f"weights:              {', '.join(info.weights) or 'none yet (use weights=None)'}",
        f"reference:            {info.reference}",
    ]

    for tag, found in weights_lib.records(args.name).items():
        hub = found.hub.get("repo_id") or "not on the hub yet"
        if found.hub.get("revision"):
            hub += f" @ {found.hub['revision']}"
        lines += ["", f"weights {tag!r} ({found.date}, calozoo {found.calozoo_version})",
                  f"  licence:        {found.license}",
                  f"  hub:            {hub}"]
        for part, entry in found.files.items():
            lines.append(f"  {part + ':':15s} {entry['name']} ({entry['size']:,} bytes, "
                         f"sha256 {entry['sha256'][:16]}…)")
        for heading, values in (("trained ranges", found.trained_ranges),
                                ("source", found.source),
                                ("training data", found.training_data),
                                ("recipe", found.recipe), ("metrics", found.metrics)):
            if values:
                lines.append(f"  {heading + ':':15s} " + ", ".join(
                    f"{key}={_short(value)}" for key, value in values.items()))
        lines += [f"  {'note:':15s} {note}" for note in found.notes]
        lines += [f"  {'cite:':15s} {citation}" for citation in found.citation]
    print("\n".join(lines))
    return 0


def _short(value) -> str:
    """A record value for one line: long tables are left to the record itself."""
    text = str(value)
    if isinstance(value, (list, dict)) and len(text) > 100:
        return f"<{len(value)} entries: see the record>"
    return text


def cmd_download(args: argparse.Namespace) -> int:
    from calozoo import weights as weights_lib

    names = calozoo.list_models() if args.all else args.names
    if not names:
        raise ValueError("name a model (or several), or give --all")
    fetched = 0
    for name in names:
        calozoo.model_info(name)
        if not weights_lib.available_tags(name):
            if args.all:
                continue
            raise FileNotFoundError(f"no pretrained weights for {name!r} yet")
        for path in weights_lib.download(name, args.tag):
            print(f"{name}: {path}")
            fetched += 1
    if not fetched:
        raise FileNotFoundError("no model has pretrained weights yet; nothing to download")
    return 0


def cmd_push(args: argparse.Namespace) -> int:
    from calozoo import weights as weights_lib

    revision = weights_lib.push(args.name, args.repo, args.tag)
    print(f"pushed {args.name} weights {args.tag!r} to {args.repo} at revision {revision}")
    print(f"record it: \"hub\": {{\"repo_id\": \"{args.repo}\", \"revision\": "
          f"\"{revision}\"}} in weights/{args.name}/{args.tag}.json")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from calozoo import weights as weights_lib

    found = weights_lib.import_legacy(args.name, generator=args.generator,
                                      discriminator=args.discriminator, tag=args.tag,
                                      out=args.out, overwrite=args.overwrite)
    record_path = found.folder / f"{found.tag}.json"
    for part, entry in found.files.items():
        print(f"{part}: {found.folder / entry['name']}", file=sys.stderr)
    print(f"wrote {record_path}; load it with calozoo.load({args.name!r}, "
          f"weights={str(record_path)!r})", file=sys.stderr)
    return 0


def seed_argument(text: str) -> int:
    """argparse type of --seed: an integer ≥ 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--seed must be an integer ≥ 0, got {text!r}") \
            from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"--seed must be an integer ≥ 0, got {value}")
    return value


def _weights_argument(text: str) -> str | None:
    text = text.strip()
    if not text:
        raise ValueError("--weights is empty; give 'default', a weights tag, a path, or 'none'")
    return None if text.lower() == "none" else text


def _available_memory() -> int | None:
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


BYTES_PER_PRIMARY = 32
"""Memory per shower that the command line holds for the whole run: the drawn energy and
angle (float64) and their validated copies; the showers themselves are streamed."""


def _check_count(count: int) -> None:
    """Refuse a shower count whose primaries alone cannot fit in memory, before any work."""
    if count <= 0:
        raise ValueError(f"-n must be positive, got {count}")
    available = _available_memory()
    needed = count * BYTES_PER_PRIMARY
    if available is not None and needed > 0.8 * available:
        raise ValueError(f"-n {count:,} needs {needed / 2**30:,.1f} GiB of memory for the "
                         f"primaries alone ({available / 2**30:,.1f} GiB available); split the "
                         "job into several runs with different --seed")


def parse_range(text: str, what: str) -> tuple[float, float]:
    """``"2:500"`` (uniform range) or ``"100"`` (one value) → (low, high)."""
    parts = text.split(":")
    try:
        values = [float(part) for part in parts]
    except ValueError:
        values = []
    if len(values) not in (1, 2) or not all(np.isfinite(values)):
        raise ValueError(f"--{what} must be a value or a range LOW:HIGH, got {text!r}")
    low, high = values[0], values[-1]
    if low > high:
        raise ValueError(f"--{what} range {text!r} has LOW > HIGH")
    return low, high


def draw(bounds: tuple[float, float], count: int, rng: np.random.Generator) -> np.ndarray:
    low, high = bounds
    return np.full(count, low) if low == high else rng.uniform(low, high, count)


def _batch_seeds(seed: int | None, batches: int):
    if seed is None:
        return [None] * batches
    return np.random.SeedSequence(seed).spawn(batches)


def cmd_simulate(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from calozoo.data import ShowerWriter
    from calozoo.data.showers import parse_geometry
    from calozoo.sim import simulate

    shape = parse_geometry(args.geometry)
    _files.check_output(args.output, overwrite=args.overwrite)
    energies, angles = _primaries(args, with_angles=False)
    batch = 1000
    batches = -(-args.n // batch)
    with ShowerWriter(args.output, shape, with_angles=angles is not None,
                      expected=args.n, overwrite=args.overwrite) as writer, \
            tqdm(total=args.n, unit=" showers", desc="simulate", disable=args.quiet) as bar:
        for index, seed in enumerate(_batch_seeds(args.seed, batches)):
            part = slice(index * batch, min((index + 1) * batch, args.n))
            writer.write(simulate(energies[part], None if angles is None else angles[part],
                                  geometry=args.geometry, detector=args.detector,
                                  particle=args.particle, seed=seed))
            bar.update(part.stop - part.start)
    print(f"wrote {args.n} showers to {args.output}", file=sys.stderr)
    return 0


def _primaries(args: argparse.Namespace, with_angles: bool):
    """Energies (GeV) and angles (degrees) drawn from the CLI ranges, seeded by --seed."""
    _check_count(args.n)
    energy_range = parse_range(args.energies, "energies")
    if energy_range[0] <= 0:
        raise ValueError(f"--energies must be > 0 GeV, got {args.energies!r}")
    angle_range = parse_range(args.angles, "angles") if args.angles else None
    if angle_range is None and with_angles:
        raise ValueError("this model is conditioned on the angle: give --angles in degrees "
                         "(e.g. 60:120, 90 = perpendicular)")
    if args.seed is not None:
        # row i depends only on (seed, i), so shards of one run agree with the whole run
        from calozoo.shards import primaries

        return primaries(args.seed, 0, args.n, energy_range, angle_range)
    rng = np.random.default_rng()
    energies = draw(energy_range, args.n, rng)
    angles = None if angle_range is None else draw(angle_range, args.n, rng)
    return energies, angles


def cmd_generate(args: argparse.Namespace) -> int:
    from calozoo.generation import OutOfRangeWarning

    info = calozoo.model_info(args.name)
    weights = _weights_argument(args.weights)
    _files.check_output(args.output, overwrite=args.overwrite)
    shard = None
    if args.shard is not None:
        from calozoo.shards import parse_shard

        shard = parse_shard(args.shard)
        if args.seed is None:
            raise ValueError("--shard needs --seed: every shard must draw the same showers")
    if args.sparse and args.format != "3dgan":
        raise ValueError("--sparse exists in the 3DGAN layout only")
    energies, angles = _primaries(args, "angle" in info.conditions)
    generator = calozoo.load(args.name, weights=weights)
    with warnings.catch_warnings():
        warnings.simplefilter("always", OutOfRangeWarning)
        count = generator.generate_to_file(
            args.output, energies, angles, seed=args.seed, batch_size=args.batch_size,
            progress=not args.quiet, precision=args.precision, strict=args.strict,
            overwrite=args.overwrite, shard=shard, format=args.format, sparse=args.sparse,
            output_dtype=args.output_dtype)
    part = "" if shard is None else f" (shard {shard[0]}/{shard[1]} of {args.n})"
    print(f"wrote {count} showers{part} from {args.name} to {args.output}", file=sys.stderr)
    return 0


def cmd_merge(args: argparse.Namespace) -> int:
    from calozoo.shards import merge

    path = merge(args.output, args.shards, overwrite=args.overwrite)
    print(f"wrote {path}: {len(args.shards)} shards merged", file=sys.stderr)
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    for path in (args.reference, args.generated):
        if not Path(path).is_file():
            raise FileNotFoundError(f"{path}: no such file")
    index = calozoo.report(args.reference, args.generated, args.out,
                           title=args.title or f"{args.generated} vs {args.reference}",
                           classifier=not args.no_classifier, progress=not args.quiet,
                           overwrite=args.overwrite)
    print(f"wrote {index} (plots and summary.json beside it)", file=sys.stderr)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    calozoo.model_info(args.name)
    if args.format != "onnx":
        raise ValueError(f"unknown export format {args.format!r}")
    weights = _weights_argument(args.weights)
    path = calozoo.export_onnx(args.name, args.output, opset=args.opset, weights=weights,
                               overwrite=args.overwrite)
    print(f"wrote {path}: inputs noise, energy [GeV]"
          f"{', angle [deg]' if 'angle' in calozoo.model_info(args.name).conditions else ''}"
          f"; output showers [GeV]", file=sys.stderr)
    return 0


def _training_source(args: argparse.Namespace) -> dict:
    if args.simulate < 0:
        raise ValueError(f"--simulate must be a positive number of showers per epoch, got "
                         f"{args.simulate}")
    if args.batch_size is not None and args.batch_size <= 0:
        raise ValueError(f"--batch-size must be positive, got {args.batch_size}")
    if args.epochs <= 0:
        raise ValueError(f"--epochs must be positive, got {args.epochs}")
    if args.keep_checkpoints is not None and args.keep_checkpoints < 1:
        raise ValueError(f"--keep-checkpoints must be at least 1, got {args.keep_checkpoints}")
    if bool(args.data) == bool(args.simulate):
        raise ValueError("give either --data FILE... or --simulate N")
    if args.workers is not None and args.workers < 1:
        raise ValueError(f"--workers must be at least 1, got {args.workers}")
    if args.max_minutes is not None and args.max_minutes < 0:
        raise ValueError(f"--max-minutes must not be negative, got {args.max_minutes}")
    return {"data": args.data or None, "simulate": args.simulate or 0,
            "detector": args.detector, "workers": args.workers,
            "max_minutes": args.max_minutes, "keep_checkpoints": args.keep_checkpoints}


def cmd_train(args: argparse.Namespace) -> int:
    from calozoo.train import train

    calozoo.model_info(args.name)
    devices = _devices(args)
    trainer = train(args.name, args.out, epochs=args.epochs, batch_size=args.batch_size,
                    seed=args.seed, precision=args.precision, resume=args.resume,
                    progress=not args.quiet, devices=devices, recipe=args.recipe,
                    **_training_source(args))
    print(f"trained {args.name} to epoch {trainer.epoch}: {args.out} (weights in "
          f"{args.out}/weights)", file=sys.stderr)
    return 0


def cmd_finetune(args: argparse.Namespace) -> int:
    calozoo.model_info(args.name)
    weights = _weights_argument(args.weights)
    devices = _devices(args)
    calozoo.finetune(args.name, epochs=args.epochs, weights=weights,
                     learning_rate=args.learning_rate, freeze=args.freeze or (),
                     out_dir=args.out, batch_size=args.batch_size, seed=args.seed,
                     precision=args.precision, progress=not args.quiet, devices=devices,
                     recipe=args.recipe, **_training_source(args))
    print(f"fine-tuned {args.name}: {args.out} (weights in {args.out}/weights)",
          file=sys.stderr)
    return 0


def cmd_tune(args: argparse.Namespace) -> int:
    from calozoo.train.search import best_trial, tune

    calozoo.model_info(args.name)
    try:
        import optuna
        if not args.verbose:
            optuna.logging.set_verbosity(optuna.logging.WARNING)
    except ImportError:
        pass            # tune() says how to install it
    if args.simulate < 0:
        raise ValueError(f"--simulate must be a positive number of showers per epoch, got "
                         f"{args.simulate}")
    if bool(args.data) == bool(args.simulate):
        raise ValueError("give either --data FILE... or --simulate N")
    storage = args.storage or f"sqlite:///{Path(args.out) / 'study.db'}"
    if storage.startswith("sqlite:///"):
        Path(storage.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    log = (lambda message: None) if args.quiet else \
        (lambda message: print(f"calozoo tune: {message}", file=sys.stderr, flush=True))
    study = tune(args.name, args.data or None, trials=args.trials, storage=storage,
                 study=args.study, budget_steps=args.budget_steps, reports=args.reports,
                 simulate=args.simulate, detector=args.detector, validation=args.validation,
                 validation_showers=args.validation_showers, objective=args.objective,
                 pruner=args.pruner, space=args.space, weights=_weights_argument(args.weights)
                 if args.weights else None, seed=args.seed, precision=args.precision,
                 workers=args.workers, out_dir=args.out, grace_seconds=args.grace_seconds,
                 log=log)
    best = best_trial(study)
    if best is None:
        print(f"study {study.study_name}: no trial completed; nothing written but "
              f"{args.out}/summary.html", file=sys.stderr)
        return EXIT_ERROR
    error = best.user_attrs.get("score_error")
    shown = f"{best.value:.4f}" + (f" ± {error:.4f}" if error is not None and
                                   np.isfinite(error) else "")
    print(f"study {study.study_name}: best trial {best.number}, {args.objective} "
          f"{shown}; recipe {args.out}/best_recipe.json (calozoo train {args.name} "
          f"--recipe {args.out}/best_recipe.json ...), summary {args.out}/summary.html",
          file=sys.stderr)
    return 0


def _devices(args: argparse.Namespace) -> int | str | None:
    """--devices as the trainer takes it; starts JAX's multi-host runtime when asked."""
    from calozoo.train.trainer import initialize_distributed

    initialize_distributed(args.coordinator, args.num_processes, args.process_id)
    if args.devices in (None, "all"):
        return args.devices
    try:
        return int(args.devices)
    except ValueError:
        raise ValueError(f"--devices must be a number or 'all', got {args.devices!r}") from None


def _training_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="zoo name")
    parser.add_argument("--devices", help="data-parallel over N local accelerators or 'all' "
                                          "(JAX backend; the recipe's global batch is split)")
    parser.add_argument("--coordinator", metavar="HOST:PORT",
                        help="multi-host JAX: the coordinator's address (under SLURM with "
                             "several tasks this is found automatically)")
    parser.add_argument("--num-processes", type=int, help="multi-host JAX: number of processes")
    parser.add_argument("--process-id", type=int, help="multi-host JAX: this process's rank")
    parser.add_argument("--data", nargs="+", help="HDF5 shower files (3DGAN or CaloChallenge)")
    parser.add_argument("--simulate", type=int, default=0,
                        help="simulate N showers per epoch instead of reading files")
    parser.add_argument("--detector", default="clic-wsi", choices=["clic-wsi", "pbwo4"],
                        help="detector of --simulate")
    parser.add_argument("--epochs", type=int, required=True, help="epochs to reach")
    parser.add_argument("--batch-size", type=int, help="default: the recipe's")
    parser.add_argument("--seed", type=seed_argument, default=0, help="random seed (≥ 0)")
    parser.add_argument("--precision", default="float32", choices=["float32", "bfloat16"])
    parser.add_argument("--out", required=True, help="run directory")
    parser.add_argument("--workers", type=int, default=None,
                        help="processes that simulate --simulate's showers (default: all "
                             "cores but one, up to 16)")
    parser.add_argument("--max-minutes", type=float, default=None,
                        help="stop at the last epoch end within this wall-clock budget "
                             "(minutes; at least one epoch runs); a train run continues with "
                             "--resume")
    parser.add_argument("--keep-checkpoints", type=int, default=None, metavar="K",
                        help="keep only the K newest checkpoints (default: all)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def cmd_convert(args: argparse.Namespace) -> int:
    from calozoo.data.root import convert_root, parse_branch_map

    count = convert_root(args.input, args.output, args.tree, parse_branch_map(args.branch_map),
                         geometry=args.geometry, energy_unit=args.energy_unit,
                         angle_unit=args.angle_unit, cell_scale=args.cell_scale,
                         progress=not args.quiet, overwrite=args.overwrite)
    print(f"wrote {count} showers to {args.output}", file=sys.stderr)
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors in calozoo's one-line form (exit status 2)."""

    def error(self, message: str):
        self.exit(EXIT_ERROR, f"calozoo: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="calozoo",
        description="Keras 3 model zoo for fast calorimeter shower simulation. "
                    "Energies in GeV, angles in degrees (90 = perpendicular).",
    )
    parser.add_argument("--version", action="version", version=f"calozoo {calozoo.__version__}")
    parser.add_argument("--verbose", action="store_true",
                        help="show the backend's start-up log lines (TensorFlow, XLA)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    listing = commands.add_parser("list", help="list the zoo's models")
    listing.add_argument("pattern", nargs="?", default="*", help="fnmatch pattern, e.g. 'g*'")
    listing.set_defaults(handler=cmd_list)

    info = commands.add_parser("info", help="show what the zoo knows about a model")
    info.add_argument("name", help="zoo name, e.g. g1-3branch")
    info.set_defaults(handler=cmd_info)

    fetch = commands.add_parser(
        "download", help="fetch pretrained weights into the huggingface-hub cache (login nodes)")
    fetch.add_argument("names", nargs="*", help="zoo names")
    fetch.add_argument("--all", action="store_true", help="every model with weights")
    fetch.add_argument("--tag", help="one weights tag (default: all tags)")
    fetch.set_defaults(handler=cmd_download)

    weights_parser = commands.add_parser("weights", help="maintain weights (maintainers)")
    weights_commands = weights_parser.add_subparsers(dest="weights_command", required=True,
                                                     metavar="ACTION")
    push = weights_commands.add_parser("push", help="upload weights and record to the hub")
    push.add_argument("name", help="zoo name")
    push.add_argument("--repo", required=True, help="hub repository, ORG/NAME")
    push.add_argument("--tag", default="default", help="weights tag")
    push.set_defaults(handler=cmd_push)

    importer = commands.add_parser(
        "import", help="import Keras 2 / tf.keras checkpoints of the original papers' code")
    importer.add_argument("name", help="zoo name whose architecture the files hold")
    importer.add_argument("--generator", required=True, help="legacy generator .hdf5 file")
    importer.add_argument("--discriminator", help="legacy discriminator .hdf5 file (optional)")
    importer.add_argument("--tag", required=True, help="weights tag of the new record")
    importer.add_argument("--out", help="folder for <name>/<tag>.json and the weights "
                                        "(default: $CALOZOO_WEIGHTS, else ./calozoo-weights)")
    importer.add_argument("--overwrite", action="store_true",
                          help="replace an existing record of the same tag")
    importer.set_defaults(handler=cmd_import)

    sim = commands.add_parser(
        "simulate", help="simulate reference showers (GFlash-parametrised calorimeter)")
    sim.add_argument("-n", type=int, required=True, help="number of showers")
    sim.add_argument("--energies", required=True,
                     help="primary energy in GeV: a value (100) or a uniform range (2:500)")
    sim.add_argument("--angles", help="polar angle in degrees, 90 = perpendicular: a value or "
                                      "a uniform range (60:120); needs --geometry 51x51x25")
    sim.add_argument("--geometry", default="25x25x25", choices=["25x25x25", "51x51x25"])
    sim.add_argument("--detector", default="clic-wsi", choices=["clic-wsi", "pbwo4"])
    sim.add_argument("--particle", default="electron", choices=["electron", "photon"])
    sim.add_argument("--seed", type=seed_argument,
                     help="random seed, an integer ≥ 0 (same seed, same showers)")
    sim.add_argument("-o", "--output", required=True, help="HDF5 file to write (3DGAN layout)")
    sim.add_argument("--overwrite", action="store_true",
                     help="replace an existing output (refused otherwise)")
    sim.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    sim.set_defaults(handler=cmd_simulate)

    gen = commands.add_parser("generate", help="generate showers with a zoo model into HDF5")
    gen.add_argument("name", help="zoo name, e.g. g1-3branch")
    gen.add_argument("-n", type=int, required=True, help="number of showers")
    gen.add_argument("--energies", required=True,
                     help="primary energy in GeV: a value (100) or a uniform range (2:500)")
    gen.add_argument("--angles", help="polar angle in degrees, 90 = perpendicular: a value or "
                                      "a uniform range (60:120); angle models only")
    gen.add_argument("--seed", type=seed_argument,
                     help="random seed, an integer ≥ 0 (same seed, same showers)")
    gen.add_argument("--weights", default="default",
                     help="'default', a weights tag, a path, or 'none' (random initialisation)")
    gen.add_argument("--precision", default="float32", choices=["float32", "bfloat16"])
    gen.add_argument("--batch-size", type=int, help="showers per forward pass (default: auto)")
    gen.add_argument("--strict", action="store_true",
                     help="refuse energies/angles outside the trained range (default: warn)")
    gen.add_argument("-o", "--output", required=True, help="HDF5 file to write")
    gen.add_argument("--format", default="3dgan", choices=["3dgan", "calochallenge"],
                     help="file layout: 3DGAN (GeV) or CaloChallenge (MeV)")
    gen.add_argument("--output-dtype", default="float32", choices=["float32", "float16"],
                     help="storage type of the cells (float16: half the size; 3DGAN layout)")
    gen.add_argument("--sparse", action="store_true",
                     help="store the non-zero cells only (float16 values; 3DGAN layout)")
    gen.add_argument("--shard", metavar="K/S",
                     help="write shard K (from 0) of S: the rows K*N//S … (K+1)*N//S-1 of "
                          "the N showers the whole run writes (needs --seed; join the shards "
                          "with 'calozoo merge')")
    gen.add_argument("--overwrite", action="store_true",
                     help="replace an existing output (refused otherwise)")
    gen.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    gen.set_defaults(handler=cmd_generate)

    merge = commands.add_parser(
        "merge", help="join the shards of one 'calozoo generate --shard' run into one file")
    merge.add_argument("output", help="merged HDF5 file to write")
    merge.add_argument("shards", nargs="+", help="the shard files, in any order")
    merge.add_argument("--overwrite", action="store_true",
                       help="replace an existing output (refused otherwise)")
    merge.set_defaults(handler=cmd_merge)

    evaluate = commands.add_parser(
        "evaluate", help="compare generated showers with reference showers: plots + numbers")
    evaluate.add_argument("reference", help="reference showers (3DGAN or CaloChallenge HDF5)")
    evaluate.add_argument("generated", help="generated showers (any format calozoo reads)")
    evaluate.add_argument("--out", required=True, help="folder for the PNGs, index.html and "
                                                       "summary.json")
    evaluate.add_argument("--title", help="report title")
    evaluate.add_argument("--overwrite", action="store_true",
                          help="replace the files of an existing report (refused otherwise)")
    evaluate.add_argument("--no-classifier", action="store_true",
                          help="skip the classifier test (faster)")
    evaluate.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    evaluate.set_defaults(handler=cmd_evaluate)

    export = commands.add_parser("export", help="export a generator's decode() to ONNX")
    export.add_argument("name", help="zoo name")
    export.add_argument("--format", default="onnx", choices=["onnx"])
    export.add_argument("--weights", default="default",
                        help="'default', a weights tag, a path, or 'none' (random initialisation)")
    export.add_argument("--opset", type=int, help="ONNX opset (default: the converter's)")
    export.add_argument("-o", "--output", required=True, help="the .onnx file to write")
    export.add_argument("--overwrite", action="store_true",
                        help="replace an existing output (refused otherwise)")
    export.set_defaults(handler=cmd_export)

    train_parser = commands.add_parser("train", help="train a zoo model with its recipe")
    _training_arguments(train_parser)
    train_parser.add_argument("--resume", action="store_true",
                              help="continue the run in --out from its last checkpoint")
    train_parser.add_argument("--recipe", metavar="FILE",
                              help="a recipe file (JSON/YAML, e.g. the best_recipe.json of "
                                   "'calozoo tune') instead of the published recipe")
    train_parser.set_defaults(handler=cmd_train)

    finetune = commands.add_parser("finetune", help="fine-tune a zoo model on new data")
    _training_arguments(finetune)
    finetune.add_argument("--weights", default="default",
                          help="'default', a tag, a weights path, or a run directory")
    finetune.add_argument("--learning-rate", type=float, help="generator learning rate")
    finetune.add_argument("--freeze", nargs="+", help="layer-name patterns to keep fixed")
    finetune.add_argument("--recipe", metavar="FILE",
                          help="a recipe file instead of the published recipe")
    finetune.set_defaults(handler=cmd_finetune)

    tune = commands.add_parser(
        "tune", help="search a model's recipe with Optuna (pip install 'calozoo[tune]')",
        description="Hyper-parameter search: each trial trains the model with settings drawn "
                    "from its search space for --budget-steps batches and is scored on "
                    "held-out showers (lower is better); bad trials are pruned early. "
                    "Several processes given the same --storage and --study share one study.")
    tune.add_argument("name", help="zoo name")
    tune.add_argument("--data", nargs="+", help="HDF5 shower files to train on (the last is "
                                                "held out for scoring unless --validation)")
    tune.add_argument("--simulate", type=int, default=0,
                      help="simulate N training showers per epoch instead of reading files")
    tune.add_argument("--detector", default="clic-wsi", choices=["clic-wsi", "pbwo4"],
                      help="detector of --simulate and of the simulated held-out showers")
    tune.add_argument("--trials", type=int, required=True,
                      help="trials of the whole study (shared by all its workers)")
    tune.add_argument("--storage", help="Optuna storage URL: sqlite:///study.db (default: "
                                        "OUT/study.db), or postgresql://... / mysql://... "
                                        "for workers on many nodes")
    tune.add_argument("--study", help="study name (default: calozoo-NAME)")
    tune.add_argument("--budget-steps", type=int, default=100,
                      help="training batches per trial (default 100)")
    tune.add_argument("--reports", type=int, default=4,
                      help="scores per trial, where the pruner may stop it (default 4)")
    tune.add_argument("--objective", default="separation", choices=["separation", "fpd"],
                      help="mean separation power of the shower observables, or FPD")
    tune.add_argument("--pruner", default="median", choices=["median", "hyperband", "none"])
    tune.add_argument("--space", metavar="FILE",
                      help="JSON/YAML file changing the search space (ranges, choices, fixed "
                           "values; null = the published value)")
    tune.add_argument("--validation", metavar="FILE", help="held-out showers to score against")
    tune.add_argument("--validation-showers", type=int, default=500,
                      help="held-out showers simulated with --simulate (default 500)")
    tune.add_argument("--weights",
                      help="start every trial from these weights ('default', a tag, a path, a "
                           "run directory): tunes fine-tuning; default: from scratch")
    tune.add_argument("--seed", type=seed_argument, default=0,
                      help="seed of the training runs (the same in every trial)")
    tune.add_argument("--precision", default="float32", choices=["float32", "bfloat16"])
    tune.add_argument("--workers", type=int, default=1,
                      help="processes that simulate --simulate's showers (default 1)")
    tune.add_argument("--out", required=True,
                      help="directory for best_recipe.json and summary.html")
    tune.add_argument("--grace-seconds", type=int, default=60,
                      help="a running trial with no heartbeat for this long belongs to a dead "
                           "worker and is marked failed (default 60)")
    tune.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    tune.set_defaults(handler=cmd_tune)

    convert = commands.add_parser("convert", help="convert a ROOT TTree to calozoo HDF5")
    convert.add_argument("input", help="ROOT file")
    convert.add_argument("output", help="HDF5 file to write (3DGAN layout)")
    convert.add_argument("--overwrite", action="store_true",
                         help="replace an existing output (refused otherwise)")
    convert.add_argument("--tree", required=True, help="TTree name")
    convert.add_argument("--branch-map", required=True,
                         help="which branch holds what, e.g. ecal=ECAL,energy=Ep,angle=theta")
    convert.add_argument("--geometry", help="grid of a flat ECAL branch, e.g. 25x25x25")
    convert.add_argument("--energy-unit", default="GeV", choices=["GeV", "MeV"],
                         help="unit of the energy and cell branches")
    convert.add_argument("--angle-unit", default="rad", choices=["rad", "deg"])
    convert.add_argument("--cell-scale", type=float, default=1.0,
                         help="stored cell values per energy unit (divided out)")
    convert.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    convert.set_defaults(handler=cmd_convert)
    return parser


@contextlib.contextmanager
def _native_stderr_silenced():
    """Send what C++ libraries write to file descriptor 2 to /dev/null for a while.

    TensorFlow's start-up lines (oneDNN notice, CUDA stubs, absl's pre-initialisation notice)
    are written by its shared libraries while it is imported, before TF_CPP_MIN_LOG_LEVEL
    applies to them.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _import_backend_quietly() -> None:
    """Import Keras (and so its backend) with the backend's start-up log lines silenced."""
    if "keras" in sys.modules:
        return
    with _native_stderr_silenced():
        try:
            import keras  # noqa: F401
        except Exception:   # the error is raised again, audibly, where keras is needed
            pass


class Terminated(BaseException):
    """SIGTERM (what batch systems and ``timeout`` send), raised where the program is, so that
    temporary files are removed on the way out as for Ctrl-C."""


def _terminate(signum, frame):
    raise Terminated()


def _one_line_warning(message, category, filename, lineno, line=None) -> str:
    return f"calozoo: warning: {message}\n"


def main(argv: Sequence[str] | None = None) -> int:
    warnings.formatwarning = _one_line_warning
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    previous = None
    try:
        previous = signal.signal(signal.SIGTERM, _terminate)
    except ValueError:      # not the main thread: leave signals alone
        pass
    try:
        if args.verbose:
            os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0"
        elif args.command not in ("list", "info", "download"):
            _import_backend_quietly()
        return handler(args)
    except (ValueError, FileNotFoundError, OSError, KeyError, ImportError) as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"calozoo: error: {message}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("calozoo: interrupted", file=sys.stderr)
        return 130
    except Terminated:
        print("calozoo: terminated", file=sys.stderr)
        return 143
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)

if __name__ == "__main__":
    sys.exit(main())
