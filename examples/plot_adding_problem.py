"""
Adding problem: memory over many steps
======================================

The adding problem (Hochreiter & Schmidhuber 1997) tests whether a network can
keep a value for many steps. Each sequence has two channels: values drawn
uniformly from [0, 1], and a marker that is 1 at exactly two steps, one in each
half of the sequence. The target is the sum of the two marked values.

Always predicting the mean, 1, gives a mean squared error of 1/6 (about 0.167),
the variance of a sum of two uniform values. So does any model that cannot
connect the first marked value to the end of the sequence, 25 to 49 steps later
here: a linear model of the whole window, for instance, since the target
multiplies values by markers.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.linear_model import RidgeCV

from numbarnn import GRURegressor
from numbarnn.datasets import make_adding_problem

T = 50
X, y = make_adding_problem(2000, T, random_state=0)
X_test, y_test = make_adding_problem(500, T, random_state=1)
print(f"X {X.shape}, y {y.shape}; MSE of predicting 1 on the test set: "
      f"{np.mean((1 - y_test) ** 2):.3f}")

ridge = RidgeCV().fit(X.reshape(len(X), -1), y)
ridge_mse = np.mean((ridge.predict(X_test.reshape(len(X_test), -1)) - y_test) ** 2)
print(f"RidgeCV on the flattened sequence: test MSE {ridge_mse:.3f}")

# %%
# A GRU, one epoch at a time
# --------------------------
# ``partial_fit`` runs one epoch and keeps the optimizer's state, so the test
# error can be measured after every epoch.

model = GRURegressor(hidden_size=32, learning_rate_init=1e-2, random_state=0)
test_mse = []
for _ in range(12):
    model.partial_fit(X, y)
    test_mse.append(np.mean((model.predict(X_test) - y_test) ** 2))
    if test_mse[-1] < 2e-3:
        break
print(f"after {model.n_iter_} epochs: training loss {model.loss_curve_[-1]:.4f}, "
      f"test MSE {test_mse[-1]:.4f}")

# %%
# Learning curves and predictions
# -------------------------------

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
epochs = np.arange(1, model.n_iter_ + 1)
ax1.plot(epochs, model.loss_curve_, "o-", label="GRU training loss")
ax1.plot(epochs, test_mse, "s-", label="GRU test MSE")
ax1.axhline(1 / 6, color="gray", linestyle="--", label="predicting 1 (1/6)")
ax1.set_yscale("log")
ax1.set_xlabel("epoch")
ax1.set_ylabel("mean squared error")
ax1.legend()
ax2.scatter(y_test, model.predict(X_test), s=6)
ax2.plot([0, 2], [0, 2], color="gray", linestyle="--")
ax2.set_xlabel("target: sum of the marked values")
ax2.set_ylabel("GRU prediction")
fig.tight_layout()
