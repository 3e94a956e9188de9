"""Loaders of the real series in ``data/`` (CSV: comment lines, a header, then time,value)."""

from importlib import resources

import numpy as np


def _load(name, return_time):
    text = resources.files(__package__).joinpath("data", f"{name}.csv").read_text()
    rows = [line.split(",") for line in text.splitlines() if line and not line.startswith("#")]
    time = np.array([r[0] for r in rows[1:]])
    values = np.array([float(r[1]) for r in rows[1:]])
    return (time, values) if return_time else values


def load_sunspots(return_time=False):
    """Yearly mean sunspot number, 1700-2008 (309 values).

    A classic nonlinear forecasting benchmark with the roughly 11-year solar cycle.

    Parameters
    ----------
    return_time : bool, default=False
        Also return the years.

    Returns
    -------
    values : ndarray of shape (309,)
        Or ``(years, values)`` with ``return_time``; years are strings ``'1700'``...

    Notes
    -----
    Source: NOAA National Geophysical Data Center, solar data services, as
    distributed with the statsmodels datasets.
    Citation: NOAA NGDC, yearly mean sunspot numbers (SIDC international sunspot
    number), 1700-2008.
    Licence: public domain (a work of the U.S. government).

    Examples
    --------
    >>> from numbarnn.datasets import load_sunspots
    >>> years, values = load_sunspots(return_time=True)
    >>> print(years[0], years[-1], values.shape)
    1700 2008 (309,)
    >>> print(years[values.argmax()], values.max())
    1957 190.2

    Windows of 11 years (one solar cycle) and the year after each, to train on:

    >>> from numbarnn.preprocessing import make_windows
    >>> X, y = make_windows(load_sunspots(), lookback=11)
    >>> X.shape, y.shape
    ((298, 11, 1), (298,))
    """
    return _load("sunspots", return_time)


def load_co2(return_time=False):
    """Monthly mean atmospheric CO2 at Mauna Loa, Hawaii, March 1958 - December 2001 (ppm).

    Trend plus a yearly cycle. Averaged from the weekly flask record; the 5 months
    without a sample are linearly interpolated.

    Parameters
    ----------
    return_time : bool, default=False
        Also return the months (``'1958-03'``...).

    Returns
    -------
    values : ndarray of shape (526,)
        Or ``(months, values)`` with ``return_time``.

    Notes
    -----
    Source: Carbon Dioxide Information Analysis Center, Oak Ridge National
    Laboratory, as distributed with the statsmodels datasets.
    Citation: Keeling, C.D. and T.P. Whorf (2004). Atmospheric CO2 concentrations
    derived from flask air samples at sites in the SIO network. In *Trends: A
    Compendium of Data on Global Change*. CDIAC, Oak Ridge National Laboratory,
    U.S. Department of Energy.
    Licence: public domain.

    Examples
    --------
    >>> from numbarnn.datasets import load_co2
    >>> months, values = load_co2(return_time=True)
    >>> print(months[0], months[-1], values.shape)
    1958-03 2001-12 (526,)

    The level keeps rising: learn from its monthly changes (``difference=True``).

    >>> from numbarnn.preprocessing import make_windows
    >>> X, y = make_windows(values, lookback=12, difference=True)
    >>> X.shape, y.shape
    ((513, 12, 1), (513,))
    """
    return _load("co2", return_time)


def load_elnino(return_time=False):
    """Monthly sea surface temperature in the Nino 1+2 region, 1950-2010 (degrees C).

    A strong yearly cycle with irregular El Nino warm episodes.

    Parameters
    ----------
    return_time : bool, default=False
        Also return the months (``'1950-01'``...).

    Returns
    -------
    values : ndarray of shape (732,)
        Or ``(months, values)`` with ``return_time``.

    Notes
    -----
    Source: NOAA National Weather Service, Climate Prediction Center, as
    distributed with the statsmodels datasets.
    Citation: NOAA Extended Reconstructed Sea Surface Temperature (ERSST) v3b,
    Nino 1+2 index.
    Licence: public domain (a work of the U.S. government).

    Examples
    --------
    >>> from numbarnn.datasets import load_elnino
    >>> months, values = load_elnino(return_time=True)
    >>> print(months[0], months[-1], values.shape)
    1950-01 2010-12 (732,)
    >>> print(months[values.argmax()], values.max())  # the 1997-98 El Nino
    1998-03 29.24
    """
    return _load("elnino", return_time)


def load_nile(return_time=False):
    """Annual flow of the Nile at Aswan, 1871-1970 (10^8 cubic metres).

    Short, with a change point near 1898.

    Parameters
    ----------
    return_time : bool, default=False
        Also return the years.

    Returns
    -------
    values : ndarray of shape (100,)
        Or ``(years, values)`` with ``return_time``.

    Notes
    -----
    Source: the statsmodels datasets.
    Citation: Cobb, G. W. (1978). The problem of the Nile: conditional solution to
    a changepoint problem. *Biometrika* 65(2), 243-251.
    Licence: public domain.

    Examples
    --------
    >>> from numbarnn.datasets import load_nile
    >>> years, flow = load_nile(return_time=True)
    >>> print(years[0], years[-1], flow.shape)
    1871 1970 (100,)
    >>> before = years.astype(int) < 1899
    >>> round(flow[before].mean()), round(flow[~before].mean())
    (1098, 850)
    """
    return _load("nile", return_time)
