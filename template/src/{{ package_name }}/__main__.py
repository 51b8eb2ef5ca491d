# Template file (copier-mlops): `copier update` merges new versions into it.
from .cli import app

app()
