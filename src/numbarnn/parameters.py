"""One flat, contiguous parameter vector with named views into it."""

import math


class ParameterLayout:
    """Names, shapes and offsets of the parameters stored in one flat vector.

    Parameters
    ----------
    shapes : dict of str to tuple of int
        Parameter names and shapes, in storage order.

    Attributes
    ----------
    shapes : dict of str to tuple of int
        Parameter names and shapes, in storage order.
    offsets : dict of str to int
        Where each parameter starts in the flat vector.
    size : int
        Length of the flat vector.

    Examples
    --------
    >>> import numpy as np
    >>> from numbarnn.parameters import ParameterLayout
    >>> layout = ParameterLayout({"weight": (2, 3), "bias": (2,)})
    >>> layout.size, layout.offsets
    (8, {'weight': 0, 'bias': 6})
    >>> flat = np.zeros(layout.size)
    >>> layout.view(flat, "bias")[:] = [1.0, 2.0]  # writes go through to flat
    >>> flat
    array([0., 0., 0., 0., 0., 0., 1., 2.])
    >>> {name: view.shape for name, view in layout.views(flat).items()}
    {'weight': (2, 3), 'bias': (2,)}
    """

    def __init__(self, shapes):
        self.shapes = dict(shapes)
        self.offsets = {}
        offset = 0
        for name, shape in self.shapes.items():
            self.offsets[name] = offset
            offset += math.prod(shape)
        self.size = offset

    def __iter__(self):
        return iter(self.shapes)

    def __len__(self):
        return len(self.shapes)

    def view(self, flat, name):
        """The parameter ``name`` as a view into ``flat`` (writes go through).

        Parameters
        ----------
        flat : ndarray of shape (size,)
            The flat parameter vector.
        name : str
            A parameter name, e.g. ``'weight_hh_l0'``.

        Returns
        -------
        ndarray
            A view of shape ``shapes[name]``.
        """
        start = self.offsets[name]
        shape = self.shapes[name]
        return flat[start : start + math.prod(shape)].reshape(shape)

    def views(self, flat):
        """All parameters as a dict of views into ``flat``, in storage order.

        Parameters
        ----------
        flat : ndarray of shape (size,)
            The flat parameter vector.

        Returns
        -------
        dict of str to ndarray
            Name to view (writes go through to ``flat``).
        """
        if flat.shape != (self.size,):
            raise ValueError(f"expected a flat vector of {self.size} values, got shape "
                             f"{flat.shape}")
        return {name: self.view(flat, name) for name in self.shapes}
