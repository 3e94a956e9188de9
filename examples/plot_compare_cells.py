"""
Comparing RNN, LSTM and GRU
===========================

The three cells with the same hidden size, optimizer, learning rate and stopping
rule on a real series: the monthly sea surface temperature in the Nino 1+2
region, forecast one month ahead from the previous 24 months. Each model gets
its own early stopping; the table shows their size, epochs and test error
next to two baselines, all on the same chronological split.

The cells differ most on tasks that need memory over many steps (see the
adding problem and the diagnostics examples); on a short window of a seasonal
series the differences are small, and a linear model is a serious competitor.
"""

import numpy as np
from sklearn.linear_model import RidgeCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from numbarnn import GRURegressor, LSTMRegressor, RNNRegressor
from numbarnn.datasets import load_elnino
from numbarnn.diagnostics import plot_loss_curves
from numbarnn.preprocessing import make_windows

X, y = make_windows(load_elnino(), lookback=24)
split = int(0.8 * len(X))
X_train, y_train, X_test, y_test = X[:split], y[:split], X[split:], y[split:]

# %%
# Fit the three cells
# -------------------

models, rows = {}, []
for name, cls in (("RNN", RNNRegressor), ("LSTM", LSTMRegressor), ("GRU", GRURegressor)):
    model = cls(hidden_size=32, learning_rate_init=5e-3, early_stopping=True,
                validation_split="last", random_state=0)
    model.fit(X_train, y_train)  # standardised inside, with training statistics
    prediction = model.predict(X_test)
    parameters = sum(w.size for w in model.state_dict().values())
    rows.append((name, parameters, model.n_iter_,
                 np.sqrt(np.mean((prediction - y_test) ** 2))))
    models[name] = model

ridge = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-3, 3, 13)))
ridge.fit(X_train[:, :, 0], y_train)
ridge_prediction = ridge.predict(X_test[:, :, 0])
rows.append(("RidgeCV", 25, 0, np.sqrt(np.mean((ridge_prediction - y_test) ** 2))))
rows.append(("persistence", 0, 0, np.sqrt(np.mean((y[split - 1:-1] - y_test) ** 2))))

print(f"{'model':12} {'parameters':>10} {'epochs':>6} {'test RMSE (°C)':>15}")
for name, parameters, epochs, rmse in rows:
    print(f"{name:12} {parameters:10d} {epochs:6d} {rmse:15.3f}")

# %%
# The training loss of each epoch (on the scaled target):

ax = plot_loss_curves(models)
ax.set_title("training loss per epoch")
