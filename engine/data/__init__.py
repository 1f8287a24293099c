"""Datasets: built-in offline sets and the user's own files, as one Dataset type.

The engine side of the dataset panel. Never imports Qt; loading may run in another thread.
"""

from .builtin import BUILTIN, BuiltinInfo, load_builtin
from .compat import check_compatible
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
    "check_compatible",
    "load_builtin",
    "load_dataset",
    "load_file",
]
