"""The thread-scaling benchmark: workloads (registry), runner, worker, statistics, results schema."""

from __future__ import annotations
