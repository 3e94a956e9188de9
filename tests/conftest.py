import os

import numpy as np
import pytest
from hypothesis import settings

from numbarnn import GRUCell, LSTMCell, RNNCell

# Tests that take the ``device`` fixture run twice: on "cpu" in this process, and on "cuda" in
# a process of its own under the CUDA simulator (tests/test_cuda_simulator.py runs
# ``pytest -m device`` there), with tests/cuda, the CUDA backend's own tests. On a machine
# with an NVIDIA GPU, ``NUMBARNN_TEST_CUDA=1 pytest -m device`` runs them all on the GPU (on
# "cuda" only: their CPU run is the ordinary one).
SIMULATOR = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"
ON_CUDA = SIMULATOR or os.environ.get("NUMBARNN_TEST_CUDA") == "1"
collect_ignore = [] if ON_CUDA else ["cuda"]

settings.register_profile("numbarnn", deadline=None, max_examples=25, print_blob=True)
settings.load_profile("numbarnn")

CELLS = {
    "rnn-tanh": RNNCell("tanh"),
    "rnn-relu": RNNCell("relu"),
    "lstm": LSTMCell(),
    "lstm-peephole": LSTMCell(peephole=True),
    "lstm-coupled": LSTMCell(coupled=True),
    "lstm-peephole-coupled": LSTMCell(peephole=True, coupled=True),
    "gru-reset-after": GRUCell(reset_after=True),
    "gru-reset-before": GRUCell(reset_after=False),
}


@pytest.fixture(params=list(CELLS), ids=list(CELLS))
def cell(request):
    return CELLS[request.param]


@pytest.fixture(scope="session", params=["cuda"] if ON_CUDA else ["cpu"])
def device(request):
    """Where the network or estimator under test runs; one test body for every device."""
    return request.param


# The simulator runs a Python thread per GPU thread: a pass of a two-layer bidirectional
# network takes about 20 s there. So under it the one-body tests run within a budget (on a
# GPU all of them run):
# these tests, for these parameters (None: all), chosen to cover the layer stack, both
# heads, lengths, dropout, training, divergence and the state gradients; tests/cuda
# compares every cell's kernels, both directions and every kernel path with the CPU's.
SIMULATED = {
    "test_outputs_and_gradients_match_torch": [{"name": "lstm", "return_sequences": False},
                                               {"name": "gru-reset-after",
                                                "return_sequences": True}],
    "test_gradient_matches_finite_differences": [
        {"cell": cell, "config": config} for cell in ("lstm-peephole", "gru-reset-before")
        for config in ("one-layer", "per-step-bidirectional-lengths")],
    "test_state_gradients_match_perturbed_states": [{"name": "lstm-peephole",
                                                     "return_sequences": False}],
    "test_weighted_loss_gradient_matches_finite_differences": None,
    "test_classification_loss_gradient_matches_finite_differences": [
        {"return_sequences": True, "weighted": True},
        {"return_sequences": False, "weighted": False}],
    "test_classifier_fit_on_the_device_is_the_fit_on_the_cpu": None,
    "test_embedding_gradient_matches_finite_differences": [{"per_step": True}],
    "test_token_fit_on_the_device_is_the_fit_on_the_cpu": None,
    "test_classification_losses_match_torch": [{"loss": "cross_entropy",
                                                "return_sequences": True}],
    "test_fit_on_the_device_is_the_fit_on_the_cpu": None,
    "test_float32_fit_on_the_device_is_the_fit_on_the_cpu": None,
    "test_divergence_restores_last_good_weights": None,
    "test_mean_loss_is_weighted_by_batch_size": None,
    "test_step_to_infinite_weights_restores_the_weights_before_it": None,
    "test_nan_loss_restores_the_last_weights_with_a_finite_loss": None,
    "test_divergence_sets_the_optimizer_back_with_the_weights": None,
}


def _simulated(item):
    """Whether the simulator runs this item: its test is in SIMULATED, for any parameters
    (None) or for one of the listed combinations."""
    if item.originalname not in SIMULATED:
        return False
    params = getattr(getattr(item, "callspec", None), "params", {})
    allowed = SIMULATED[item.originalname]
    return allowed is None or any(all(params.get(k) == v for k, v in combination.items())
                                  for combination in allowed)


def pytest_collection_modifyitems(config, items):
    skipped = []
    for item in items:
        if "device" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.device)
            if SIMULATOR and not _simulated(item):
                skipped.append(item)
    if skipped:
        config.hook.pytest_deselected(items=skipped)
        items[:] = [item for item in items if item not in skipped]


def random_batch(seed, B, T, D, k, return_sequences, ragged=True):
    """Seeded inputs, targets and lengths (ragged: not all sequences full length)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((B, T, D))
    y = rng.standard_normal((B, T, k) if return_sequences else (B, k))
    lengths = rng.integers(1, T + 1, B) if ragged else np.full(B, T)
    if ragged:
        lengths[0] = T
    return X, y, lengths
