# Template file (copier-mlops): `copier update` merges new versions into it.
"""Adopt a dataset of yours: infer the data contract from a file and write the team's files.

`<package> data adopt FILE --target COLUMN` reads a CSV or parquet file in one pass of
bounded batches (so a file larger than memory works on every data engine), infers one
contract entry per column, and writes `schema.py`, `features.py`, `params.yml`,
`tests/golden/tolerances.yml` and a size-capped golden sample with its manifest. It then
trains and records the golden baseline. Nothing is written when the input is refused.

In the order adopt runs them:
- `scan`: reads the file in batches, profiles every column and keeps a bounded sample;
- `infer`: the rules that turn a column's profile into its contract entry (its docstring
  lists them, for a reviewer of the written `schema.py`) and the target's classes or range;
- `plan`: the command's column options, the inference over the file and the golden sample;
- `render`: the text of the files it writes;
- `project`: the checks against the project, the all-or-nothing write and the baseline.
"""

from .errors import AdoptError
from .plan import Columns
from .project import adopt

__all__ = ["AdoptError", "Columns", "adopt"]
