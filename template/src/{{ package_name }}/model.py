"""The model: a standardised multinomial logistic regression.

Only scikit-learn classes go into the pipeline, so the saved artefact loads in any
project without this package's code on the path.
"""

from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler


def build_model(C: float, max_iter: int, seed: int) -> Pipeline:  # noqa: N803 - sklearn's name
    return Pipeline(
        [
            ("scale", StandardScaler()),
            ("classify", LogisticRegression(C=C, max_iter=max_iter, random_state=seed)),
        ]
    )
