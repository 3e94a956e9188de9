"""Test accuracy on the bundled GunPoint problem (UCR archive's train/test split): the three
classifiers with their defaults, with a larger step size, and with it for all their epochs,
against 1-NN (Euclidean) and a ridge classifier on the raw series, over several seeds.

    python benchmarks/classification.py [--seeds 5] [--json FILE]
"""

import argparse
import json
import time
import warnings

import numpy as np
from sklearn.linear_model import RidgeClassifierCV
from sklearn.neighbors import KNeighborsClassifier

from numbarnn import GRUClassifier, LSTMClassifier, RNNClassifier
from numbarnn.datasets import load_gunpoint

CELLS = {"RNN": RNNClassifier, "LSTM": LSTMClassifier, "GRU": GRUClassifier}
SETTINGS = {"defaults": {},
            "learning_rate_init=1e-2, early_stopping=False": dict(learning_rate_init=1e-2,
                                                                  early_stopping=False),
            "the same, n_iter_no_change=200 (all 200 epochs)": dict(
                learning_rate_init=1e-2, early_stopping=False, n_iter_no_change=200)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--json")
    args = parser.parse_args()
    X, y = load_gunpoint()
    X_test, y_test = load_gunpoint("test")
    runs = []
    for name, model in (("1-NN", KNeighborsClassifier(1)),
                        ("RidgeClassifierCV", RidgeClassifierCV(np.logspace(-3, 3, 13)))):
        start = time.perf_counter()
        model.fit(X[:, :, 0], y)
        runs.append(dict(model=name, setting="", seed=0, accuracy=model.score(X_test[:, :, 0],
                                                                             y_test),
                         seconds=time.perf_counter() - start, epochs=0))
    for setting, params in SETTINGS.items():
        for cell, cls in CELLS.items():
            cls(max_iter=1, **params).fit(X[:4], y[:4])  # compile (cached) off the clock
            for seed in range(args.seeds):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    start = time.perf_counter()
                    model = cls(random_state=seed, **params).fit(X, y)
                    seconds = time.perf_counter() - start
                runs.append(dict(model=f"numbarnn {cell}", setting=setting, seed=seed,
                                 accuracy=model.score(X_test, y_test), seconds=seconds,
                                 epochs=model.n_iter_))
                print(runs[-1], flush=True)
    print("\n| model | setting | test accuracy (mean ± sd) | fit s | epochs |")
    print("|---|---|---|---|---|")
    for key in dict.fromkeys((r["model"], r["setting"]) for r in runs):
        rows = [r for r in runs if (r["model"], r["setting"]) == key]
        acc = [r["accuracy"] for r in rows]
        print(f"| {key[0]} | {key[1]} | {np.mean(acc):.3f} ± {np.std(acc):.3f} | "
              f"{np.mean([r['seconds'] for r in rows]):.2f} | "
              f"{np.mean([r['epochs'] for r in rows]):.0f} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"date": time.strftime("%Y-%m-%d"), "seeds": args.seeds, "runs": runs}, f,
                      indent=1)


if __name__ == "__main__":
    main()
