"""Imports every built-in provider module so that each registers itself (one line each).

The evaluation service imports this module; a provider helper adds its own line here.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping

from cairn.evals import cairn_model as _cairn_model  # noqa: F401 (cairn)
from cairn.evals import external as _external  # noqa: F401 (external, ragas, garak)
from cairn.evals import lm_eval as _lm_eval  # noqa: F401 (lm_evaluation_harness)
from cairn.evals import red_team as _red_team  # noqa: F401 (red_team)

PLUGINS_VARIABLE = "CAIRN_EVAL_PROVIDER_MODULES"
"""Comma-separated Python modules imported at startup so that their providers register
(third-party providers: ``CAIRN_EVAL_PROVIDER_MODULES=my_company.evals``)."""


def load_plugins(environ: Mapping[str, str] | None = None) -> list[str]:
    """Import the provider modules ``CAIRN_EVAL_PROVIDER_MODULES`` names; an import error
    stops the server at startup rather than leaving a provider silently missing."""
    env = os.environ if environ is None else environ
    names = [n.strip() for n in env.get(PLUGINS_VARIABLE, "").split(",") if n.strip()]
    for name in names:
        importlib.import_module(name)
    return names
