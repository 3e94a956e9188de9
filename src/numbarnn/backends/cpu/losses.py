"""The losses over a batch's output rows, on the CPU (the row math: :mod:`numbarnn.losses`)."""

from ..._compile import kernel
from ...losses import row_loss


@kernel
def loss_rows(kind, output, target, lengths, per_step, weight, weighted, scale, doutput):
    """The sum over rows (t, b) of ``output`` (S, B, k) of the row loss times its weight,
    times ``scale``; fills ``doutput`` with its gradient.

    A row's weight is 0 at a padded step (t >= lengths[b]) if ``per_step``, else
    ``weight[t, b, 0]`` if ``weighted``, else 1. A row of weight 0 gets a zero gradient
    and its target is not read (a padded step's may hold anything).
    """
    S, B, K = output.shape
    total = 0.0
    for t in range(S):
        for b in range(B):
            w = weight[t, b, 0] if weighted else 1.0
            if (per_step and t >= lengths[b]) or w == 0:
                for j in range(K):
                    doutput[t, b, j] = 0
            else:
                total += row_loss(kind, output, target, t, b, w, scale, doutput)
    return total * scale
