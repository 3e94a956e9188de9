"""The embedded Reber grammar table of the token-sequences guide (docs/guide/tokens.rst):
1000 training and 300 test strings, hidden size 32, default parameters otherwise, one seed.

    python benchmarks/reber.py
"""
import warnings

import numpy as np

from numbarnn import GRUClassifier, LSTMClassifier, RNNClassifier
from numbarnn.datasets import make_embedded_reber
from numbarnn.metrics import perplexity

warnings.simplefilter("ignore")
X, y = make_embedded_reber(1000, random_state=0)
X_test, y_test = make_embedded_reber(300, random_state=1)
print("cell | test perplexity | per-symbol accuracy | second-to-last accuracy | epochs")
for cls in (RNNClassifier, LSTMClassifier, GRUClassifier):
    model = cls(vocab_size=7, hidden_size=32, return_sequences=True, random_state=0).fit(X, y)
    predicted = model.predict(X_test)
    long_range = np.mean([p[len(t) - 2] == t[-2] for p, t in zip(predicted, y_test)])
    score = perplexity(y_test, model.predict_log_proba(X_test), model.classes_)
    print(f"{cls.__name__} | {score:.4f} | {model.score(X_test, y_test):.4f} | "
          f"{long_range:.2f} | {model.n_iter_}")
