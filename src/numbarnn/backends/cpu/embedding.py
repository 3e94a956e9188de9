"""The token embedding's backward pass on the CPU: rows of the gradient added into the
table's gradient (a scatter-add; the forward pass is NumPy's gather)."""

from ..._compile import kernel


@kernel
def scatter_rows(dx, ids, lengths, dweight):
    """dweight[ids[t, b, 0]] += dx[t, b] for every valid step (t < lengths[b])."""
    T, B, D = dx.shape
    for t in range(T):
        for b in range(B):
            if t < lengths[b]:
                row = ids[t, b, 0]
                for j in range(D):
                    dweight[row, j] += dx[t, b, j]
