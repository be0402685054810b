"""The contention finder (``lockswap contention``): which shared-written objects limit thread scaling.

``probe.py`` (with ``candidates.py``) runs inside the variant's venv (discovery and counterfactual
timing), ``runner.py`` schedules it, ``analysis.py`` ranks the counterfactuals, ``render.py`` prints
and plots the JSON, ``command.py`` is the CLI command.
"""
