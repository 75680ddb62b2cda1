"""The package version, in one place: the package, exports' metadata and ``zoo --version`` read it."""

__version__ = "0.1.0"
