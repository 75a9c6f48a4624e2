"""The ``calozoo`` command line: thin wrappers over the Python API.

Errors print one line (no traceback) and exit with status 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

import calozoo
from calozoo import registry

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
    conditioning = registry.entry(args.name).conditioning
    lines = [
        f"name:                 {info.name}",
        f"description:          {info.description}",
        f"output grid (X,Y,Z):  {' × '.join(map(str, info.shape))} cells",
        f"conditions:           {_format_conditions(info.conditions)}",
        f"latent size:          {info.latent_size} N(0,1) values per shower",
        f"trained energies:     {conditioning.energy_range[0]:g}–{conditioning.energy_range[1]:g} GeV",
    ]
    if conditioning.angle_range:
        low, high = conditioning.angle_range
        lines.append(f"trained angles:       {low:g}–{high:g} degrees (90 = perpendicular)")
    lines += [
        f"generator params:     {info.generator_params:,}",
        f"discriminator params: {info.discriminator_params:,}",
        f"weights:              {', '.join(info.weights) or 'none yet (use weights=None)'}",
        f"reference:            {info.reference}",
    ]
    print("\n".join(lines))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="calozoo",
        description="Keras 3 model zoo for fast calorimeter shower simulation. "
                    "Energies in GeV, angles in degrees (90 = perpendicular).",
    )
    parser.add_argument("--version", action="version", version=f"calozoo {calozoo.__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    listing = commands.add_parser("list", help="list the zoo's models")
    listing.add_argument("pattern", nargs="?", default="*", help="fnmatch pattern, e.g. 'g*'")
    listing.set_defaults(handler=cmd_list)

    info = commands.add_parser("info", help="show what the zoo knows about a model")
    info.add_argument("name", help="zoo name, e.g. g1-3branch")
    info.set_defaults(handler=cmd_info)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except (ValueError, FileNotFoundError, OSError, KeyError) as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"calozoo: error: {message}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("calozoo: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
