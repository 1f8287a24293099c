"""Datasets: built-in offline sets and the user's own files, as one Dataset type.

The engine side of the dataset panel. Never imports Qt; loading may run in a worker thread.
"""

from .builtin import BUILTIN, BuiltinInfo, load_builtin
from .compat import check_compatible
from .dataset import Dataset
from .errors import DatasetError
from .loaders import load_dataset, load_file

__all__ = [
    "BUILTIN",
    "BuiltinInfo",
    "Dataset",
    "DatasetError",
    "check_compatible",
    "load_builtin",
    "load_dataset",
    "load_file",
]
