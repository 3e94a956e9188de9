"""Command line: ``numbarnn demo`` and ``numbarnn compile`` (also ``python -m numbarnn ...``)."""

import argparse
import dataclasses

from . import demo, precompile


def main(argv=None):
    """Parse the command line and run the chosen command; returns the exit status."""
    parser = argparse.ArgumentParser(prog="numbarnn", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("demo", help="compare RNN, LSTM and GRU on real and synthetic data",
                              description=demo.__doc__)
    defaults = demo.Settings()
    run.add_argument("--quick", action="store_true",
                     help="small data and few epochs (about a minute)")
    run.add_argument("--out", default=defaults.out, help="folder for the figures")
    run.add_argument("--hidden-size", type=int, default=defaults.hidden_size)
    run.add_argument("--dataset", default=defaults.dataset,
                     choices=["sunspots", "co2", "elnino", "nile"])
    run.add_argument("--timesteps", type=int, default=defaults.timesteps,
                     help="length of the adding-problem sequences")
    run.add_argument("--epochs", type=int, default=None,
                     help="epochs for every task (default: per task)")
    run.add_argument("--seconds", type=float, default=None,
                     help="also stop each model's training after this many seconds")
    run.add_argument("--seed", type=int, default=defaults.seed)
    run.add_argument("--no-torch", action="store_true", help="skip the PyTorch rows")
    warm = commands.add_parser(
        "compile", help="fill Numba's cache with the CPU kernels ahead of the first fit",
        description=precompile.__doc__.split("\n\n")[0])
    warm.add_argument("--cells", nargs="+", default=list(precompile.CELLS),
                      choices=list(precompile.CELLS))
    warm.add_argument("--dtype", nargs="+", default=["float32"], choices=list(precompile.DTYPES))
    args = parser.parse_args(argv)
    if args.command == "compile":
        precompile.precompile(args.cells, args.dtype)
        return 0

    settings = demo.Settings(**(demo.QUICK if args.quick else {}))
    settings = dataclasses.replace(
        settings, out=args.out, hidden_size=args.hidden_size, dataset=args.dataset,
        timesteps=args.timesteps, seconds=args.seconds, seed=args.seed, torch=not args.no_torch)
    if args.epochs is not None:
        settings = dataclasses.replace(settings, forecast_epochs=args.epochs,
                                       gunpoint_epochs=args.epochs, reber_epochs=args.epochs,
                                       adding_epochs=args.epochs)
    demo.run(settings)
    return 0
