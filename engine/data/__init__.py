"""Datasets: built-in offline sets and the user's own files, as one Dataset type.

The engine side of the dataset panel. Never imports Qt; loading may run in another thread.
"""

from .builtin import BUILTIN, BuiltinInfo, load_builtin
from .compat import DataFit, check_compatible, fit_to_dataset
from .dataset import Dataset
from .errors import DatasetError
from .loaders import load_dataset, load_file
from .session import DatasetSession, DataSource

__all__ = [
    "BUILTIN",
    "BuiltinInfo",
    "DataSource",
    "Dataset",
    "DatasetSession",
    "DatasetError",
    "DataFit",
    "check_compatible",
    "fit_to_dataset",
    "load_builtin",
    "load_dataset",
    "load_file",
]
