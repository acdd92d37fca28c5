"""Data Readiness Auditor: is our data ready for this AI use case, and if not, what blocks it?"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("data-readiness-auditor")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+local"

__all__ = ["__version__"]
