# Template file (copier-mlops): `copier update` merges new versions into it.
"""The template's plumbing: settings, data loading, the pipeline and its engines, golden
checks, monitoring, the service and the command line.

Everything under core/ belongs to copier-mlops and changes with `copier update`. Your
code is one level up: schema.py (the data contract), features.py, model.py and their
parameters in params.yml. Change behaviour there, or through the settings in config.py,
rather than here.
"""
