"""The installed package's metadata agrees with the source."""

from importlib.metadata import version

import numbarnn


def test_installed_version_is_the_packages_own():
    # pyproject.toml reads the version from numbarnn.__version__, its one source
    assert version("numbarnn") == numbarnn.__version__
