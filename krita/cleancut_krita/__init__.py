# SPDX-License-Identifier: GPL-3.0-or-later
"""cleancut for Krita: Layer > Remove Background, Select > Select Subject, and their options.

Installed as pykrita/cleancut_krita/ (with core/cleancut_client.py copied into it),
pykrita/cleancut_krita.desktop and actions/cleancut_krita.action in Krita's resource folder.
"""

from krita import Krita

from .extension import CleancutExtension

Krita.instance().addExtension(CleancutExtension(Krita.instance()))
