"""syncer keeps a metadata catalog in step with the systems it describes, cheaply and often."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("syncer")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = ["__version__"]
