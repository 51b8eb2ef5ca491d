# Template file (copier-mlops): `copier update` merges new versions into it.
"""How each data size runs the pipeline; a project has the modules of its own engine.

- small.py: pandas in memory.
- medium.py: polars lazy frames over parquet, run by the streaming engine.
- large.py: Dask dataframes, on a LocalCluster or your cluster.
- incremental.py: the out-of-core training of medium and large, on their engine.
- batched.py: the seeded split, fixed-size batches and held-out scores they share.
- common.py: what every engine shares (scores, predictions, the model file).

The rest of the package imports the pipeline from pipeline.py, never from here.
"""
