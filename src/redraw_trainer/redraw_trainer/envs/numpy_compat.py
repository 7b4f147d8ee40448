"""One fix that lets gym-duckietown step under numpy >= 1.24 (we use numpy 2.3).

`duckietown_world.world_duckietown.pwm_dynamics.DynamicModel.integrate` calls
`geo.se2_from_linear_angular([array([x]), 0.0], array([w]))`; numpy >= 1.24 refuses to build an array
from that ragged list ("inhomogeneous shape"). We coerce the arguments to floats at the name
`pwm_dynamics` uses (`pwm_dynamics.geo`), leaving the shared `geometry` package untouched.
"""

from __future__ import annotations

import types

import numpy as np

_PATCHED = "_redraw_float_se2"


def _float_se2_from_linear_angular(geometry: types.ModuleType):
    def se2_from_linear_angular(linear, angular):
        flat = [float(np.asarray(v).reshape(-1)[0]) for v in linear]
        return geometry.se2_from_linear_angular(np.array(flat), float(np.asarray(angular).reshape(-1)[0]))

    return se2_from_linear_angular


def apply() -> None:
    """Idempotently patch `pwm_dynamics.geo.se2_from_linear_angular` for numpy 2."""
    from duckietown_world.world_duckietown import pwm_dynamics

    if getattr(pwm_dynamics.geo, _PATCHED, False):
        return
    geometry = pwm_dynamics.geo
    proxy = types.ModuleType(f"{geometry.__name__}_float_args")
    proxy.__dict__.update({k: v for k, v in vars(geometry).items() if not k.startswith("__")})
    proxy.se2_from_linear_angular = _float_se2_from_linear_angular(geometry)
    setattr(proxy, _PATCHED, True)
    pwm_dynamics.geo = proxy
