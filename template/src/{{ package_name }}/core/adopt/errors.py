# Template file (copier-mlops): `copier update` merges new versions into it.
"""The one error `data adopt` raises for input it refuses."""


class AdoptError(ValueError):
    """The file cannot be adopted as it is; the message says why and what to do."""
