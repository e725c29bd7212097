"""syncer keeps a metadata catalog in step with the systems it describes, cheaply and often."""

from importlib.metadata import PackageNotFoundError, version

# The name to pip install: `syncer` on PyPI is an unrelated project. The import name and the
# command stay `syncer`.
DISTRIBUTION = "metadata-syncer"

try:
    __version__ = version(DISTRIBUTION)
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = ["DISTRIBUTION", "__version__"]
