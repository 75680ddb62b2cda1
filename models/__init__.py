"""The zoo's models. Importing this package registers each of them with ``zoo.registry``."""

from models import forecaster  # noqa: F401  (registers "forecaster")
