"""The product's settings (`itsm.settings`, unchanged) plus the ceiling's app and URLconf.

Nothing else differs: middleware, authentication, throttling, database, cache and logging are
the product's, read from the same environment.
"""

from itsm.settings import *  # noqa: F403
from itsm.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "bench.ceiling.apps.CeilingConfig"]
ROOT_URLCONF = "bench.ceiling.urls"
