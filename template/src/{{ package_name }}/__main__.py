# Template file (copier-mlops): `copier update` merges new versions into it.
from .core.cli import app

app()
