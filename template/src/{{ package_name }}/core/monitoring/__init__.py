# Template file (copier-mlops): `copier update` merges new versions into it.
"""Monitoring: thresholds, Prometheus metrics, alert rules, drift and report plots.

`monitoring/thresholds.yml` at the project root is the single source of every bound:
the service and the `drift` command read it at run time, and the alert rules in
`monitoring/prometheus/` are generated from it.
"""
