"""Feature engineering: turns validated records into the model's inputs.

Pure functions of the input frame, so the golden tests can tell when they change.
Add a feature here, then refresh the golden baseline with `make golden-update`.
"""

import numpy as np
import pandas as pd

from .schema import FEATURE_NAMES


def build_features(frame: pd.DataFrame) -> pd.DataFrame:
    """Model inputs: the raw measurements plus ratios that chemists read together."""
    features = frame.loc[:, list(FEATURE_NAMES)].astype("float64")
    features["flavanoid_share"] = features["flavanoids"] / features["total_phenols"]
    features["colour_per_hue"] = features["color_intensity"] / features["hue"]
    features["log_proline"] = np.log(features["proline"])
    return features.reset_index(drop=True)
