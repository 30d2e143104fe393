"""The `irbis` command: `irbis run` (the trap), `irbis sim` (a simulated deployment),
`irbis card check` (a card's journal and media), `irbis plan` (energy and pack life) and
`irbis eval` (triage replayed on labelled real frames, beside two baselines)."""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

SEED_MAX = 2**32 - 1  # the renderer keeps a seed's low 32 bits: a larger one would repeat a smaller


def _seed(text: str) -> int:
    try:
        seed = int(text)
    except ValueError:
        seed = -1
    if not 0 <= seed <= SEED_MAX:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a whole number 0-{SEED_MAX}")
    return seed


def _days(text: str) -> float:
    from sim.scenario import DAYS_MAX

    try:
        days = float(text)
    except ValueError:
        days = math.nan
    if not 0 < days <= DAYS_MAX:  # NaN and the infinities fail this too
        raise argparse.ArgumentTypeError(
            f"{text!r}: --days must be positive, a number of days up to {DAYS_MAX:g}"
        )
    return days


def _sim(argv: list[str]) -> int:
    from sim.scenario import DAYS_MAX

    p = argparse.ArgumentParser(
        prog="irbis sim",
        description="Simulate a deployment. The run folder is built beside --out and renamed "
        "into place at the end: a failure or Ctrl-C leaves nothing behind.",
    )
    p.add_argument("scenario", help="a scenario name under sim/scenarios/ or a .toml path")
    p.add_argument(
        "--days",
        type=_days,
        default=None,
        help=f"simulated days, up to {DAYS_MAX:g} (default: the scenario's)",
    )
    p.add_argument("--seed", type=_seed, default=1, help=f"0-{SEED_MAX} (default 1)")
    p.add_argument(
        "--out", type=Path, required=True, help="a new or empty run folder (card/, metrics.json)"
    )
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)

    from device.errors import ConfigError
    from sim import scenario as scenario_mod
    from sim.metrics import collect
    from sim.report import summary
    from sim.runner import simulate, write_outputs
    from tools.out_folder import OutFolderError, building, describe

    try:
        scenario = scenario_mod.load(args.scenario)
    except FileNotFoundError as exc:
        print(f"irbis sim: {exc}", file=sys.stderr)
        return 2
    except ConfigError as exc:
        print(f"irbis sim: scenario {args.scenario}: {exc}", file=sys.stderr)
        return 2
    try:
        with _stop_on_sigterm(), building(args.out) as run_dir:
            result = simulate(
                scenario,
                args.seed,
                run_dir,
                args.days,
                progress=not args.no_progress and sys.stderr.isatty(),
            )
            metrics = collect(result)
            write_outputs(result, run_dir, metrics)
    except OutFolderError as exc:
        print(f"irbis sim: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(
            f"irbis sim: cannot write the run folder {args.out}: {describe(exc)}", file=sys.stderr
        )
        return 1
    except KeyboardInterrupt:
        print(f"irbis sim: interrupted; nothing written to {args.out}", file=sys.stderr)
        return 130
    print(summary(metrics))
    print(f"run folder: {args.out.resolve()} (card/, metrics.json, summary.txt, trap.log)")
    return 0


@contextlib.contextmanager
def _stop_on_sigterm() -> Iterator[None]:
    """SIGTERM (a `timeout`, a closed session) stops a long command like Ctrl-C: its output
    folder is cleaned up on the way out."""

    def interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _card(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="irbis card", description="Card tools.")
    sub = p.add_subparsers(dest="action", required=True, metavar="{check}")
    c = sub.add_parser(
        "check",
        help="check a card's journal and media",
        description="Check a card (or one deployment folder): the journal's CRCs and chain, "
        "every committed media's size and SHA-256, lost history (a journal shorter than its "
        "checkpoint, media of events the journal does not hold), paths that lead off the card, "
        "orphans, temporary files, sequence gaps, card.json, deployment.json and receipts. "
        "Exit status: 0 sound, 1 not sound, 2 usage, 3 DIR is not a card, 4 some of it could "
        "not be read (or, with --repair, written).",
    )
    c.add_argument("dir", type=Path, metavar="DIR", help="a card's root or a deployment folder")
    c.add_argument(
        "--repair",
        action="store_true",
        help="first run the trap's recovery: remove temporary files, cut a torn journal tail, "
        "finish an interrupted eviction, adopt the media of a commit a power cut interrupted "
        "(never deletes committed media; lost history is reported, not mended)",
    )
    c.add_argument("--json", action="store_true", help="print the report as JSON")
    args = p.parse_args(argv)

    from tools.card_check import EXIT_ACCESS, EXIT_NOT_A_CARD, NotACard, check_card

    try:
        report = check_card(args.dir, repair=args.repair)
    except NotACard as exc:
        print(f"irbis card check: {exc}", file=sys.stderr)
        return EXIT_NOT_A_CARD
    except OSError as exc:
        print(f"irbis card check: cannot read {args.dir}: {exc}", file=sys.stderr)
        return EXIT_ACCESS
    print(json.dumps(report.to_json(), indent=1) if args.json else report.render())
    return report.exit_status


def _plan(argv: list[str]) -> int:
    from tools.plan import main as plan_main

    return plan_main(argv)


def _mask(text: str) -> tuple[float, float, float, float]:
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 4:
        raise argparse.ArgumentTypeError(f"{text!r}: expected L,T,R,B (four fractions 0-1)")
    return values  # type: ignore[return-value]


EVAL_OUTPUTS = frozenset({"verdicts.csv", "metrics.json", "summary.md"})


def _eval(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        prog="irbis eval",
        description="Replay labelled real frames the way the trap would have seen them (per "
        "camera, in time order: time-lapse frames feed the background, each motion sequence is "
        "a burst to triage) beside two baselines (naive frame difference, OpenCV MOG2). Writes "
        "verdicts.csv, metrics.json and summary.md, and prints the summary.",
    )
    p.add_argument("labels", type=Path, metavar="LABELS.csv", help="the labels file")
    p.add_argument(
        "--images-root",
        type=Path,
        default=None,
        metavar="DIR",
        help="folder the CSV's file paths are relative to (default: the CSV's folder)",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="output folder, new or holding only an earlier evaluation's outputs "
        "(default: runs/eval-<stem>)",
    )
    masks = p.add_mutually_exclusive_group()
    masks.add_argument(
        "--mask",
        type=_mask,
        action="append",
        metavar="L,T,R,B",
        help="a region to ignore, as fractions of the frame (repeatable; default: the real "
        "cameras' burned-in data bar, top 7 %% and bottom 9 %%, which the trap's camera lacks)",
    )
    masks.add_argument("--no-mask", action="store_true", help="ignore no region")
    p.add_argument("--no-mog2", action="store_true", help="skip the MOG2 baseline")
    args = p.parse_args(argv)

    from device.triage import TriageSettings
    from tools.evaluate import DATA_BAR_MASKS, LabelsError, evaluate
    from tools.evaluate.report import summary

    chosen = () if args.no_mask else tuple(args.mask) if args.mask else DATA_BAR_MASKS
    try:
        settings = TriageSettings(masks=chosen)
    except ValueError as exc:
        p.error(str(exc))
    from tools.out_folder import OutFolderError, building, describe

    images_root = args.images_root or args.labels.parent
    if not images_root.is_dir():
        print(f"irbis eval: images root {images_root} is not a folder", file=sys.stderr)
        return 2
    out_dir = args.out or Path("runs") / f"eval-{args.labels.stem}"
    try:
        # an earlier evaluation's outputs in out_dir are replaced whole; anything else: refused
        with _stop_on_sigterm(), building(out_dir, EVAL_OUTPUTS) as build_dir:
            metrics = evaluate(args.labels, images_root, build_dir, settings, mog2=not args.no_mog2)
    except (LabelsError, OutFolderError) as exc:
        print(f"irbis eval: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"irbis eval: cannot write {out_dir}: {describe(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"irbis eval: interrupted; {out_dir} is as it was", file=sys.stderr)
        return 130
    print(summary(metrics))
    print(f"output folder: {out_dir.resolve()} (verdicts.csv, metrics.json, summary.md)")
    return 0


COMMANDS = {"sim": _sim, "card": _card, "plan": _plan, "eval": _eval}


def main(argv: list[str] | None = None) -> int:
    try:
        return _dispatch(sys.argv[1:] if argv is None else argv)
    except KeyboardInterrupt:
        print("irbis: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`irbis plan ... | head`)
        quiet_stdout()
        return 1


def quiet_stdout() -> None:
    """Point stdout at /dev/null so that the interpreter's last flush does not fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def _dispatch(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(
            "usage: irbis {run,sim,card,plan,eval} ... | irbis --version\n"
            "  run --config trap.toml [--check]   run the trap (same as python -m device)\n"
            "  sim SCENARIO --out DIR [--days N] [--seed S]   simulate a deployment\n"
            "  card check DIR [--repair] [--json]   check a card's journal and media\n"
            "  plan CONFIG --scenario S [--json] [--days N]   energy, pack life, budget cuts\n"
            "  eval LABELS.csv [--images-root DIR] [--out DIR] [--mask L,T,R,B | --no-mask]\n"
            "       [--no-mog2]   triage on labelled real frames beside two baselines"
        )
        return 0 if argv else 2
    if argv[0] in ("-V", "--version"):
        from device import __version__

        print(f"irbis {__version__}")
        return 0
    command, rest = argv[0], argv[1:]
    if command == "run":
        from device.main import run

        return run(rest)
    if command not in COMMANDS:
        print(f"irbis: unknown command {command!r} (run, sim, card, plan, eval)", file=sys.stderr)
        return 2
    return COMMANDS[command](rest)


if __name__ == "__main__":
    sys.exit(main())
