"""Studies: ask / tell / optimize over a store, and the executors that run trials."""

from lightning_autotune.study._create import create_study, load_study
from lightning_autotune.study._executors import Executor, InProcessExecutor, Job, RunSettings
from lightning_autotune.study._faults import FailureThreshold
from lightning_autotune.study._process import ProcessExecutor
from lightning_autotune.study._ray import RayExecutor
from lightning_autotune.study._resources import ResourceType, parse_memory
from lightning_autotune.study._study import Study

__all__ = [
    "Executor",
    "FailureThreshold",
    "InProcessExecutor",
    "Job",
    "ProcessExecutor",
    "RayExecutor",
    "ResourceType",
    "RunSettings",
    "Study",
    "create_study",
    "load_study",
    "parse_memory",
]
