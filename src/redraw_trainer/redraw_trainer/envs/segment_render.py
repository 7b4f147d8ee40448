"""Two fixes that let gym-duckietown render ground-truth segmentation (`Simulator.render_obs(segment=True)`)
at duckietown-gym-daffy 6.1.34, and the map from its colours to lane-marking classes.

1. `graphics.get_texture` picks a texture variant with `rng.randint`; with today's gym seeding the simulator's
   `np_random`, which randomised tiles keep as their texture rng, is a `numpy.random.Generator` (`integers`,
   no `randint`). We hand `get_texture` an adapter that adds `randint`.
2. Object meshes pass their segmentation colour as a *list* to the `lru_cache`d `graphics.load_texture`
   ("unhashable type: 'list'"). We turn it into a tuple at the name `objmesh` uses.

Both are patched at the module attributes gym_duckietown looks up at call time; nothing else changes, and
normal rendering is untouched. `apply()` is idempotent.

In a segmented render lighting is off: sky and the ground outside the map are magenta (255, 0, 255), asphalt
and everything else on a tile black, markings keep their paint colours, objects get a colour hashed from their
mesh name. `segment_classes` maps that image to class ids (background / yellow / white / red).
"""

from __future__ import annotations

import functools

import numpy as np

_PATCHED = "_redraw_segment_render"

CLASSES = ("background", "yellow", "white", "red")  # class ids 0..3


class _RandintAdapter:
    """A `numpy.random.Generator` seen through the old `RandomState.randint` name (all else passes through)."""

    def __init__(self, rng: np.random.Generator) -> None:
        self._rng = rng

    def randint(self, low, high=None, size=None):
        return self._rng.integers(low, high, size)

    def __getattr__(self, name):
        return getattr(self._rng, name)


def apply() -> None:
    """Idempotently patch gym_duckietown's `graphics.get_texture` and `objmesh.load_texture` (see above)."""
    from gym_duckietown import graphics, objmesh

    if getattr(graphics.get_texture, _PATCHED, False):
        return
    get_texture = graphics.get_texture

    @functools.wraps(get_texture)
    def get_texture_any_rng(tex_name, rng=None, segment=False):
        if rng is not None and not hasattr(rng, "randint"):
            rng = _RandintAdapter(rng)
        return get_texture(tex_name, rng, segment)

    load_texture = objmesh.load_texture

    @functools.wraps(load_texture)
    def load_texture_hashable(tex_path, segment=False, segment_into_color=None):
        if isinstance(segment_into_color, list):
            segment_into_color = tuple(int(c) for c in segment_into_color)
        return load_texture(tex_path, segment, segment_into_color)

    setattr(get_texture_any_rng, _PATCHED, True)
    setattr(load_texture_hashable, _PATCHED, True)
    graphics.get_texture = get_texture_any_rng
    objmesh.load_texture = load_texture_hashable


def render_segmented(sim) -> np.ndarray:
    """The simulator's camera view as ground-truth segmentation (HxWx3 uint8, colours as described above)."""
    apply()
    return sim.render_obs(segment=True)
