"""
Classifying hand movements: GunPoint
====================================

The UCR archive's GunPoint problem (bundled: :func:`~numbarnn.datasets.load_gunpoint`)
holds the x coordinate of an actor's hand over 150 steps, drawing a replica gun
from a holster (class '1') or pointing a finger (class '2'). The archive splits
it into 50 training and 150 test movements.

The three classifiers meet a nearest-neighbour classifier, the archive's classic
baseline. With only 50 training sequences an epoch is two mini-batches: at
first the networks sit at chance for tens of epochs, where the default stopping
rule gives up, so here they take a larger step size and train for all 200 epochs
on every sequence (the classification guide has the measurements).
"""

import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.neighbors import KNeighborsClassifier

from numbarnn import GRUClassifier, LSTMClassifier, RNNClassifier
from numbarnn.datasets import load_gunpoint

X, y = load_gunpoint()
X_test, y_test = load_gunpoint("test")
print(f"train {X.shape}, test {X_test.shape}, classes {sorted(set(y.tolist()))}")

fig, ax = plt.subplots(figsize=(7, 3))
for label, colour in (("1", "tab:red"), ("2", "tab:blue")):
    for series in X[y == label][:5, :, 0]:
        ax.plot(series, color=colour, alpha=0.6)
    ax.plot([], color=colour, label={"1": "'1': gun draw", "2": "'2': point"}[label])
ax.set(xlabel="time step", ylabel="hand x (archive units)", title="Five movements per class")
ax.legend()
fig.tight_layout()

# %%
# Train the three cells
# ---------------------
# The same hidden size, step size and number of epochs for each. The plain
# RNN has to carry the difference between the movements over 150 steps through
# a product of tanh' · W per step (see :doc:`/theory`).

params = dict(learning_rate_init=1e-2, early_stopping=False, n_iter_no_change=200,
              random_state=0)
warnings.simplefilter("ignore", ConvergenceWarning)  # all 200 epochs are meant to run
scores = {"1-NN (Euclidean)": KNeighborsClassifier(1).fit(X[:, :, 0], y).score(X_test[:, :, 0],
                                                                               y_test)}
models = {}
for cls in (RNNClassifier, LSTMClassifier, GRUClassifier):
    model = cls(**params).fit(X, y)
    name = cls.__name__.removesuffix("Classifier")
    models[name] = model
    scores[name] = model.score(X_test, y_test)
    print(f"{name}: test accuracy {scores[name]:.3f} after {model.n_iter_} epochs")

fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3))
for name, model in models.items():
    left.semilogy(model.loss_curve_, label=name)
left.set(xlabel="epoch", ylabel="training cross-entropy", title="Loss curves")
left.legend()
right.barh(list(scores), list(scores.values()), color="tab:gray")
right.set(xlim=(0.4, 1.0), xlabel="test accuracy", title="Accuracy on the 150 test movements")
fig.tight_layout()

# %%
# How sure is the GRU?
# --------------------
# ``predict_proba`` gives each class's probability, in the order of
# ``classes_``; the test movements it gets wrong are those it is least sure of.

gru = models["GRU"]
proba = gru.predict_proba(X_test)
confidence = proba.max(axis=1)
wrong = gru.predict(X_test) != y_test
print(f"classes {gru.classes_}; mean confidence {confidence[~wrong].mean():.3f} when right, "
      f"{confidence[wrong].mean() if wrong.any() else np.nan:.3f} when wrong "
      f"({wrong.sum()} wrong)")
