# Your file: `copier update` never changes it (copier-mlops ownership).
"""Feature engineering: turns validated records into the model's inputs.

Pure row-wise derivations, written once with narwhals expressions, so the same function
runs on a pandas, polars or Dask frame and every data engine computes identical
features. Imputation and encoding are not done here: they are steps of the saved model
pipeline (contract.py), so training, batch scoring and serving agree. Add a feature
here, then refresh the golden baseline with `make golden-update`.
"""

from collections.abc import Sequence

import narwhals as nw
from narwhals.typing import IntoFrameT

from .schema import CONTRACT


def build_features(frame: IntoFrameT, keep: Sequence[str] = ()) -> IntoFrameT:
    """Model inputs: the declared columns plus ratios that chemists read together.

    Columns named in `keep` (identifiers, labels) pass through unchanged in front.
    """
    inputs = nw.from_native(CONTRACT.model_inputs(frame, keep))
    return inputs.with_columns(
        (nw.col("flavanoids") / nw.col("total_phenols")).alias("flavanoid_share"),
        (nw.col("color_intensity") / nw.col("hue")).alias("colour_per_hue"),
        nw.col("proline").log().alias("log_proline"),
    ).to_native()
