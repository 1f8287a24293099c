"""Test-wide setup: Qt runs headless, and the app's settings go to a throw-away folder.

Both must happen before Qt starts, hence at import time rather than in a fixture.
"""

import os
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# QSettings (recent files, dock layout) must not read or litter the developer's real config.
os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="layerlab-test-config-")
