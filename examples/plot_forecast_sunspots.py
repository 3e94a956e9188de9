"""
A first forecast: sunspots
==========================

Forecast the yearly sunspot number one year ahead from the 20 years before it,
with an LSTM, and compare it with two baselines.

The series becomes sequences with :func:`~numbarnn.preprocessing.make_windows`.
The estimator standardises the windows and the target itself, with statistics
of the training windows only (``standardize=True``, the default), and predicts
in sunspot numbers. The split is chronological: every test window comes after
every training window.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.linear_model import RidgeCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from numbarnn import LSTMRegressor
from numbarnn.datasets import load_sunspots
from numbarnn.preprocessing import make_windows

years, series = load_sunspots(return_time=True)
lookback = 20
X, y = make_windows(series, lookback=lookback)  # X (n, 20, 1); y the year after each window
target_years = years[lookback:].astype(int)
split = int(0.8 * len(X))
X_train, y_train, X_test, y_test = X[:split], y[:split], X[split:], y[split:]
print(f"{len(X_train)} training windows ({target_years[0]}-{target_years[split - 1]}), "
      f"{len(X_test)} test windows ({target_years[split]}-{target_years[-1]})")

# %%
# The model
# ---------
# ``early_stopping=True`` with ``validation_split="last"`` holds out the last
# 10 % of the training windows (the years just before the test years, so no
# validation window is older than a training one) and stops when their R² no
# longer improves, keeping the best weights.

model = LSTMRegressor(hidden_size=32, learning_rate_init=5e-3, early_stopping=True,
                      validation_split="last", random_state=0)
model.fit(X_train, y_train)
print(f"trained for {model.n_iter_} epochs; best validation R² "
      f"{model.best_validation_score_:.3f}")

# %%
# Baselines
# ---------
# Persistence (next year equals this year) and a ridge regression on the
# 20 values of the window.

ridge = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-3, 3, 13)))
ridge.fit(X_train[:, :, 0], y_train)
predictions = {
    "LSTM": model.predict(X_test),
    "RidgeCV": ridge.predict(X_test[:, :, 0]),
    "persistence": X_test[:, -1, 0],
}
for name, prediction in predictions.items():
    rmse = np.sqrt(np.mean((prediction - y_test) ** 2))
    print(f"test RMSE {name:12} {rmse:6.2f}")

# %%
# The test years
# --------------

fig, ax = plt.subplots(figsize=(8, 3.5))
ax.plot(target_years[split:], y_test, "k.-", label="observed")
for name in ("LSTM", "RidgeCV"):
    ax.plot(target_years[split:], predictions[name], label=name)
ax.set_xlabel("year")
ax.set_ylabel("sunspot number")
ax.set_title("one-year-ahead forecasts on the test years")
ax.legend()
fig.tight_layout()
