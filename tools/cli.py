"""The `irbis` command: `irbis run` (the trap), `irbis sim` (a simulated deployment),
`irbis card check` (a card's journal and media) and `irbis plan` (energy and pack life)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _sim(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="irbis sim", description="Simulate a deployment.")
    p.add_argument("scenario", help="a scenario name under sim/scenarios/ or a .toml path")
    p.add_argument("--days", type=float, default=None, help="simulated days (default: scenario)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", type=Path, required=True, help="run folder (card/, metrics.json)")
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    if args.days is not None and args.days <= 0:
        p.error(f"--days must be positive, got {args.days}")

    from device.errors import ConfigError
    from sim import scenario as scenario_mod
    from sim.metrics import collect
    from sim.report import summary
    from sim.runner import simulate, write_outputs

    try:
        scenario = scenario_mod.load(args.scenario)
        result = simulate(
            scenario,
            args.seed,
            args.out,
            args.days,
            progress=not args.no_progress and sys.stderr.isatty(),
        )
    except (ConfigError, FileNotFoundError, FileExistsError) as exc:
        print(f"irbis sim: {exc}", file=sys.stderr)
        return 2
    metrics = collect(result)
    write_outputs(result, args.out, metrics)
    print(summary(metrics))
    print(f"run folder: {args.out.resolve()} (card/, metrics.json, summary.txt, trap.log)")
    return 0


def _card(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="irbis card", description="Card tools.")
    sub = p.add_subparsers(dest="action", required=True, metavar="{check}")
    c = sub.add_parser(
        "check",
        help="check a card's journal and media",
        description="Check a card (or one deployment folder): the journal's CRCs and chain, "
        "every committed media's size and SHA-256, orphans, temporary files, sequence gaps, "
        "card.json, deployment.json and receipts. Exit status: 0 sound, 1 committed media "
        "missing or corrupt or the journal damaged (a torn tail too, unless --repair cut it), "
        "2 DIR is not a card.",
    )
    c.add_argument("dir", type=Path, metavar="DIR", help="a card's root or a deployment folder")
    c.add_argument(
        "--repair",
        action="store_true",
        help="first run the trap's recovery: remove temporary files, cut a torn journal tail, "
        "finish an interrupted eviction (never deletes committed media)",
    )
    c.add_argument("--json", action="store_true", help="print the report as JSON")
    args = p.parse_args(argv)

    from tools.card_check import NotACard, check_card

    try:
        report = check_card(args.dir, repair=args.repair)
    except (NotACard, OSError) as exc:
        print(f"irbis card check: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(report.to_json(), indent=1) if args.json else report.render())
    return report.exit_status


def _plan(argv: list[str]) -> int:
    from tools.plan import main as plan_main

    return plan_main(argv)


COMMANDS = {"sim": _sim, "card": _card, "plan": _plan}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(
            "usage: irbis {run,sim,card,plan} ...\n"
            "  run --config trap.toml [--check]   run the trap (same as python -m device)\n"
            "  sim SCENARIO --out DIR [--days N] [--seed S]   simulate a deployment\n"
            "  card check DIR [--repair] [--json]   check a card's journal and media\n"
            "  plan CONFIG --scenario S [--json] [--days N]   energy, pack life, budget cuts"
        )
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command == "run":
        from device.main import run

        return run(rest)
    if command not in COMMANDS:
        print(f"irbis: unknown command {command!r} (run, sim, card, plan)", file=sys.stderr)
        return 2
    return COMMANDS[command](rest)


if __name__ == "__main__":
    sys.exit(main())
