"""The demo city: a deterministic simulator of the five departments and their deliveries.

Public API:

- :func:`generate` (``GenerateParams`` -> manifest): simulate a city and write every
  delivery exactly as ``feeds.md`` describes it, the ground truth beside them, and a
  manifest. ``citybrain demo-city generate`` calls it.
- :class:`DirtProfile` and :data:`PROFILES` (``default``, ``clean``): how dirty the
  deliveries are.
- :func:`load_city` / :class:`City`: the city definition (``cities/<name>.toml``).
- :func:`wgs84_to_gcj02`, :func:`gcj02_to_bd09`: the coordinate obfuscations, vectorized.

See ``README.md`` beside this file for the output layout, the truth's conventions and
the reason codes.
"""

from feeds.demo_city.city import City, load_city
from feeds.demo_city.context import GenerateParams
from feeds.demo_city.coords import gcj02_to_bd09, wgs84_to_gcj02
from feeds.demo_city.dirt import PROFILES, DirtProfile
from feeds.demo_city.generate import generate

__all__ = [
    "PROFILES",
    "City",
    "DirtProfile",
    "GenerateParams",
    "gcj02_to_bd09",
    "generate",
    "load_city",
    "wgs84_to_gcj02",
]
