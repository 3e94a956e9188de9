"""Quick start: forecast a noisy two-tone signal one step ahead with LSTMRegressor.

Windows of the series become sequences (``make_windows``), inputs and targets are
standardised inside the model (``SequenceScaler`` in a ``Pipeline``, a
``TransformedTargetRegressor`` for y), and the test error is compared with
persistence (tomorrow equals today) on a chronological split.
"""

import time

import numpy as np
from sklearn.compose import TransformedTargetRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from numbarnn import LSTMRegressor
from numbarnn.preprocessing import SequenceScaler, make_windows

rng = np.random.default_rng(0)
t = np.arange(3000)
series = 3 + np.sin(2 * np.pi * t / 50) + 0.5 * np.sin(2 * np.pi * t / 17)
series += 0.05 * rng.standard_normal(t.size)

X, y = make_windows(series, lookback=30)
split = int(0.8 * len(X))  # chronological: the test windows come after the training ones
X_train, y_train, X_test, y_test = X[:split], y[:split], X[split:], y[split:]

model = TransformedTargetRegressor(
    make_pipeline(SequenceScaler(),
                  LSTMRegressor(hidden_size=32, max_iter=10, learning_rate_init=5e-3,
                                random_state=0, verbose=1)),
    transformer=StandardScaler(),
)
start = time.perf_counter()
model.fit(X_train, y_train)
seconds = time.perf_counter() - start

rmse = np.sqrt(np.mean((model.predict(X_test) - y_test) ** 2))
persistence = np.sqrt(np.mean((X_test[:, -1, 0] - y_test) ** 2))
print(f"fit {seconds:.1f} s; test RMSE: LSTM {rmse:.3f}, persistence {persistence:.3f}")
