"""The zoo's models. Importing this package registers each of them with ``zoo.registry``."""

from models import anomaly, char_lm, forecaster, g2p, tagger, text_classifier, ts_classifier  # noqa: F401  (each registers its model)
