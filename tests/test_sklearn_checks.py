"""scikit-learn's estimator checks for the six estimators (small networks, few epochs)."""

from sklearn.base import is_classifier
from sklearn.utils.estimator_checks import parametrize_with_checks

from numbarnn import (
    GRUClassifier,
    GRURegressor,
    LSTMClassifier,
    LSTMRegressor,
    RNNClassifier,
    RNNRegressor,
)
from numbarnn.preprocessing import SequenceScaler

ESTIMATORS = [cls(hidden_size=4, max_iter=5, batch_size=16, random_state=0)
              for cls in (RNNRegressor, LSTMRegressor, GRURegressor, RNNClassifier,
                          LSTMClassifier, GRUClassifier)] + [SequenceScaler()]

# A 2D X is (n_samples, n_timesteps) of univariate sequences, and a recurrent network
# takes sequences of any length; n_features_in_ counts features per time step.
SEQUENCE_LENGTH_IS_FREE = (
    "a 2D X is read as (n_samples, n_timesteps); a sequence model accepts any number of time "
    "steps, so X.shape[1] is not a feature count that must stay fixed (n_features_in_ is the "
    "number of features per step, and changing that is an error, tested in test_estimators.py)"
)


MINI_BATCHES = (
    "mini-batch training draws different batches from repeated sequences than from weighted "
    "ones, so the fits differ; with one batch per epoch a weight of k is k copies, tested in "
    "test_fit_options.py"
)


def expected_failed_checks(estimator):
    checks = ["check_n_features_in", "check_n_features_in_after_fitting"]
    if isinstance(estimator, SequenceScaler):
        # its other assertions (fit_transform equals fit then transform, ...) are in
        # test_preprocessing.py
        checks += ["check_transformer_general", "check_transformer_general(readonly_memmap=True)"]
    else:
        checks += ["check_estimators_partial_fit_n_features"]
    if is_classifier(estimator):
        # its other assertions (probabilities summing to one, predict their argmax, log
        # probabilities) are in test_classifiers.py
        checks += [f"check_classifiers_train{variant}" for variant in (
            "", "(readonly_memmap=True)", "(readonly_memmap=True,X_dtype=float32)")]
    failed = dict.fromkeys(checks, SEQUENCE_LENGTH_IS_FREE)
    if not isinstance(estimator, SequenceScaler):
        failed["check_sample_weight_equivalence_on_dense_data"] = MINI_BATCHES
    return failed


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failed_checks)
def test_sklearn_compatible(estimator, check):
    check(estimator)
