"""
Diagnostics: gradient flow and gate activity
============================================

Why does a plain RNN fail at the adding problem while the LSTM and the GRU
learn it? :mod:`numbarnn.diagnostics` measures it: the gradient of the loss with
respect to the hidden state at every time step, computed with the same compiled
backprop through time that trains the model, and the activity of the gates.
The :doc:`theory page <../theory>` shows these two figures and derives what
they show.
"""

import matplotlib.pyplot as plt
import numpy as np

from numbarnn import GRURegressor, LSTMRegressor, RNNRegressor
from numbarnn.datasets import make_adding_problem
from numbarnn.diagnostics import (
    gate_statistics,
    gradient_flow,
    plot_gate_statistics,
    plot_gradient_flow,
)

T = 50
X, y = make_adding_problem(2000, T, random_state=0)
X_test, y_test = make_adding_problem(256, T, random_state=1)

# %%
# Train each cell until it solves the task or 20 epochs have passed
# ------------------------------------------------------------------
# The same hidden size, optimizer and learning rate for the three. Predicting 1
# gives a mean squared error of about 0.167.

models = {}
for name, cls in (("RNN", RNNRegressor), ("LSTM", LSTMRegressor), ("GRU", GRURegressor)):
    model = cls(hidden_size=32, learning_rate_init=1e-2, random_state=0)
    for _ in range(20):
        model.partial_fit(X, y)
        if model.loss_curve_[-1] < 0.01:
            break
    models[name] = model
    mse = np.mean((model.predict(X_test) - y_test) ** 2)
    print(f"{name:4}: {model.n_iter_:2d} epochs, test MSE {mse:.4f}")

# %%
# Gradient flow, before and after training
# ----------------------------------------
# ``gradient_flow`` returns, for every layer and direction, the norm of
# dL/dh_t at each step t averaged over the sequences (and dL/dc_t for an LSTM).
# The loss is taken at the last step, so going left is going back in time.
# ``relative=True`` divides each curve by its value at the last step: the share
# of the gradient at the end that reaches t steps back, comparable between
# models whose losses differ by orders of magnitude. ``weights="initial"``
# measures the weights each fit started from.

fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), sharey=True)
for ax, weights, title in zip(axes, ("initial", "fitted"), ("at initialisation",
                                                             "after training")):
    for name, model in models.items():
        flow = gradient_flow(model, X_test, y_test, weights=weights, relative=True)
        plot_gradient_flow(flow, ax=ax, label=name)
        for state, norms in flow["l0"].items():
            print(f"{title:17} {name:4} dL/d{state}: 10 steps back {norms[-11]:.1e}, "
                  f"{T - 1} steps back {norms[0]:.1e}")
    ax.set_title(f"{title}, adding problem (T = {T})")
    ax.set_ylabel("||dL/dh_t|| / ||dL/dh_T||")
fig.tight_layout()

# %%
# Gate activity
# -------------
# ``gate_statistics`` returns each gate's mean activation at every step and the
# fraction of activations below 0.05 or above 0.95 (saturated).

# The LSTM's forget gate f and the GRU's update gate z decide how much state
# each unit keeps from step to step; a unit whose gate averages above 0.9
# carries its state (and the gradient) across many steps.

fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
for ax, name in zip(axes, ("LSTM", "GRU")):
    stats = gate_statistics(models[name], X_test)
    plot_gate_statistics(stats, ax=ax, label=name)
    ax.set_title(f"{name} gates")
    for gate, values in stats["l0"].items():
        print(f"{name} {gate}: mean over steps {np.mean(values['mean']):.2f}, "
              f"saturated {np.mean(values['saturated']):.0%}, "
              f"units averaging above 0.9: {values['above_0.9']:.0%}")
fig.tight_layout()
