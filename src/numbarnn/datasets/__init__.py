"""Small real time series shipped with numbarnn, and synthetic long-range tasks.

Real series (public domain, each under 20 kB): :func:`load_sunspots`,
:func:`load_co2`, :func:`load_elnino`, :func:`load_nile`. Turn one into training
data with :func:`numbarnn.preprocessing.make_windows`.

Real classification data: :func:`load_gunpoint` (the UCR archive's GunPoint), and
:func:`load_ts` for any problem in the archives' ``.ts`` format.

Synthetic tasks that need memory over many steps: :func:`make_adding_problem`,
:func:`make_delayed_recall`, and next-symbol prediction on the embedded Reber grammar,
:func:`make_embedded_reber`.
"""

from .real import load_co2, load_elnino, load_nile, load_sunspots
from .synthetic import REBER_SYMBOLS, make_adding_problem, make_delayed_recall, make_embedded_reber
from .ts import load_gunpoint, load_ts

__all__ = ["load_sunspots", "load_co2", "load_elnino", "load_nile", "load_gunpoint", "load_ts",
           "make_adding_problem", "make_delayed_recall", "make_embedded_reber", "REBER_SYMBOLS"]
