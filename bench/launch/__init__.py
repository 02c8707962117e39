"""Run a codec x task matrix past one machine: slurm through submitit, submitit's local executor, or Ray.

``bench run --launcher slurm|submitit-local|ray`` builds the job graph (:mod:`.graph`: one codec job per codec,
then one job per cell after it; finished cells get none), submits it (:mod:`.launcher`), and each job runs the
runner's own :func:`bench.tasks.runner.run` (:mod:`.job`), so its records are those of ``--launcher local``.
Jobs report to ``<data>/launch/<preset>/matrix.json`` (:mod:`.state`), which ``bench status`` reads.
Nothing here imports submitit or Ray (or torch) until a job is submitted.
"""

from __future__ import annotations

from bench.launch.launcher import launch
from bench.launch.options import LAUNCHERS, LauncherError, LauncherOptions, load_options

__all__ = ["LAUNCHERS", "LauncherError", "LauncherOptions", "load_options", "launch"]
