"""Block ids: what may name a block.

An id names the block's weights ("conv1.weight") and becomes an attribute of the built
nn.Sequential and of the exported Python module, so it must be a short Python name, and not one
that torch.nn.Module already uses.
"""

from __future__ import annotations

import keyword
import re
from typing import Any

from engine.model.params import shown

ID_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
# A block id becomes an attribute of the built nn.Sequential (and of the exported Python
# module), so it must not be one of torch.nn.Module's or nn.Sequential's own names: nn.Module
# refuses those at build time ("attribute 'forward' already exists"). The names are listed here
# because the model part must not import torch; tests/engine/test_spec_hostile.py compares them with
# dir(torch.nn.Sequential()) so a new torch release that adds one fails a test.
RESERVED_IDS = frozenset(
    [
        "add_module",
        "append",
        "apply",
        "bfloat16",
        "buffers",
        "call_super_init",
        "children",
        "compile",
        "cpu",
        "cuda",
        "double",
        "dump_patches",
        "eval",
        "extend",
        "extra_repr",
        "float",
        "forward",
        "get_buffer",
        "get_extra_state",
        "get_parameter",
        "get_submodule",
        "half",
        "insert",
        "ipu",
        "load_state_dict",
        "modules",
        "mtia",
        "named_buffers",
        "named_children",
        "named_modules",
        "named_parameters",
        "parameters",
        "pop",
        "register_backward_hook",
        "register_buffer",
        "register_forward_hook",
        "register_forward_pre_hook",
        "register_full_backward_hook",
        "register_full_backward_pre_hook",
        "register_load_state_dict_post_hook",
        "register_load_state_dict_pre_hook",
        "register_module",
        "register_parameter",
        "register_state_dict_post_hook",
        "register_state_dict_pre_hook",
        "requires_grad_",
        "set_extra_state",
        "set_submodule",
        "share_memory",
        "state_dict",
        "to",
        "to_empty",
        "train",
        "training",
        "type",
        "xpu",
        "zero_grad",
    ]
)


def id_problem(block_id: Any) -> str | None:
    """Why ``block_id`` cannot name a block, as a sentence; None when it can."""
    if not isinstance(block_id, str) or not ID_RE.match(block_id) or keyword.iskeyword(block_id):
        return (
            "'id' must be a short name (at most 40 characters) of lower-case letters, digits and _ "
            f"that starts with a letter, not {shown(block_id)}."
        )
    if block_id in RESERVED_IDS:
        return (
            f"'id' cannot be {block_id!r}: PyTorch modules already use that name "
            f"(model.{block_id}) — choose another, such as '{block_id}1'."
        )
    return None
