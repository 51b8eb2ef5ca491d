"""Feature engineering: turns validated records into the model's inputs.

Written once with narwhals expressions, so the same function runs on a pandas, polars
or Dask frame and returns a frame of the same kind: every data engine computes
identical features. Pure functions of the input frame, so the golden tests can tell
when they change. Add a feature here, then refresh the golden baseline with
`make golden-update`.
"""

from collections.abc import Sequence

import narwhals as nw
from narwhals.typing import IntoFrameT

from .schema import FEATURE_NAMES


def build_features(frame: IntoFrameT, keep: Sequence[str] = ()) -> IntoFrameT:
    """Model inputs: the raw measurements plus ratios that chemists read together.

    Columns named in `keep` (identifiers, labels) pass through unchanged in front.
    """
    measured = nw.from_native(frame).select(*keep, nw.col(*FEATURE_NAMES).cast(nw.Float64))
    return measured.with_columns(
        (nw.col("flavanoids") / nw.col("total_phenols")).alias("flavanoid_share"),
        (nw.col("color_intensity") / nw.col("hue")).alias("colour_per_hue"),
        nw.col("proline").log().alias("log_proline"),
    ).to_native()
