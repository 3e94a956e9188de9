"""Quick start: train an LSTM on a noisy sine and forecast one step ahead.

Builds the network directly on numbarnn's engine (one flat parameter vector,
compiled forward and BPTT, Adam) and compares its test error with persistence
(predict the last value seen).
"""

import time

import numpy as np

from numbarnn import Adam, LSTMCell, RecurrentNetwork, clip_grad_norm

rng = np.random.default_rng(0)
t = np.arange(3000)
series = np.sin(2 * np.pi * t / 50) + 0.5 * np.sin(2 * np.pi * t / 17) + 0.05 * rng.standard_normal(t.size)
lookback = 30
X = np.lib.stride_tricks.sliding_window_view(series[:-1], lookback)[..., None].astype(np.float32)
y = series[lookback:, None].astype(np.float32)
split = int(0.8 * len(X))
X_train, y_train, X_test, y_test = X[:split], y[:split], X[split:], y[split:]

net = RecurrentNetwork(LSTMCell(), input_size=1, hidden_size=32)
params = net.init_params(random_state=0, forget_bias=1.0)
optimizer = Adam(lr=5e-3)
start = time.perf_counter()
for epoch in range(8):
    order = rng.permutation(len(X_train))
    losses = []
    for i in range(0, len(order), 32):
        batch = order[i : i + 32]
        loss, grad = net.loss_and_grad(params, X_train[batch], y_train[batch])
        clip_grad_norm(grad, 1.0)
        optimizer.step(params, grad)
        losses.append(loss)
    print(f"epoch {epoch + 1}: training MSE {np.mean(losses):.4f}")

rmse = np.sqrt(np.mean((net.predict(params, X_test) - y_test) ** 2))
persistence = np.sqrt(np.mean((X_test[:, -1] - y_test) ** 2))
print(f"fit {time.perf_counter() - start:.1f} s; test RMSE: LSTM {rmse:.3f}, persistence {persistence:.3f}")
