"""Sources of metadata, one sub-package per system."""
