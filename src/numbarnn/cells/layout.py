"""What every cell shares: how its gate blocks are stacked and named.

The backends and the network read a cell's layout from here: the gate blocks stacked in
``weight_ih`` and ``weight_hh`` (PyTorch's order), the rows of the peephole weights, the
states it carries and the gates that diagnostics report.
"""

class GateLayout:
    """Mixin of the cell classes: offsets and names of the stacked gate blocks.

    A cell class defines ``name``, ``gates`` (the blocks stacked in the weights, in
    order), ``peepholes`` (the gates with a peephole weight, in the rows of
    ``weight_ch``), ``states`` (the state names, ``('h',)`` or ``('h', 'c')``) and
    ``reported_gates`` (the gates diagnostics report).
    """

    def block(self, gate, hidden_size):
        """The rows of ``gate`` in the stacked gate blocks.

        Parameters
        ----------
        gate : str
            One of :attr:`gates`.
        hidden_size : int
            Units per block.

        Returns
        -------
        slice
        """
        g = self.gates.index(gate)
        return slice(g * hidden_size, (g + 1) * hidden_size)

    def named_gates(self, acts):
        """Gate activations by name from the stacked activations.

        Parameters
        ----------
        acts : ndarray of shape (..., G * H)
            Activations with the gate blocks stacked on the last axis.

        Returns
        -------
        dict of str to ndarray of shape (..., H)
            Every gate, the derived ones included (a coupled LSTM's i = 1 - f).
        """
        H = acts.shape[-1] // len(self.gates)
        return {g: acts[..., self.block(g, H)] for g in self.gates}

    def peephole_rows(self):
        """Where each row of ``weight_ch`` goes in the loops' (3, H) peephole array, whose
        rows are the i, f and o gates' (zeros where the cell has none).

        Returns
        -------
        tuple of int
        """
        return tuple("ifo".index(g) for g in self.peepholes)

