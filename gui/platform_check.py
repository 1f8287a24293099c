"""Before opening a window on Linux: is there a display, and can Qt's X11 plugin load?

Without these checks a missing display or system library ends in Qt's own abort ("could not
load the Qt platform plugin") with a core dump; with them the user gets one line saying what to
install.
"""

from __future__ import annotations

import ctypes
import os
import re
import sys
from pathlib import Path

# The X11 libraries Qt 6's xcb plugin needs beyond a minimal X client (Debian/Ubuntu names).
XCB_PACKAGES = (
    "libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 "
    "libxcb-render-util0 libxcb-shape0 libxcb-xinerama0 libxcb-xkb1 libxkbcommon-x11-0"
)


def window_problem(environ: dict[str, str] | None = None) -> str | None:
    """Why a window cannot open here, as a sentence with the fix; None when it can (or when
    this is not Linux, or a platform other than X11 was chosen, where Qt reports for itself)."""
    env = os.environ if environ is None else environ
    if not sys.platform.startswith("linux"):
        return None
    platform = env.get("QT_QPA_PLATFORM", "")
    if platform and not platform.startswith("xcb"):
        return None
    if not env.get("DISPLAY"):
        if env.get("WAYLAND_DISPLAY") and not platform:
            return None
        return (
            "there is no display to open a window on (DISPLAY is not set). Run LayerLab in a "
            "desktop session, or use `python main.py --screenshot out.png` or "
            "`python main.py train …` without one."
        )
    missing = _missing_xcb_library()
    if missing:
        return (
            f"Qt cannot open a window because the system library {missing} is missing. On "
            f"Debian or Ubuntu install Qt's X11 libraries: sudo apt install {XCB_PACKAGES}"
        )
    return None


def _xcb_plugin() -> Path | None:
    import PySide6

    plugin = Path(PySide6.__file__).parent / "Qt" / "plugins" / "platforms" / "libqxcb.so"
    return plugin if plugin.exists() else None


def _missing_xcb_library() -> str | None:
    plugin = _xcb_plugin()
    if plugin is None:
        return None
    try:
        ctypes.CDLL(str(plugin))
    except OSError as err:
        found = re.search(r"([\w.+-]+\.so[.\d]*): cannot open shared object", str(err))
        return found.group(1) if found else str(err)
    return None
