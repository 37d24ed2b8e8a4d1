"""Static files storage for production: whitenoise's compressed, hashed files, never a 500.

`collectstatic` writes hashed, compressed copies and a manifest; pages then link the hashed
names, cached for ever by browsers. Before it has run (a fresh checkout started with DEBUG off),
Django's manifest storage raises for every `{% static %}` and takes the console and the API docs
down. This storage links the plain name instead (settings then let whitenoise serve the app
directories, see WHITENOISE_USE_FINDERS), and logs once that `collectstatic` is missing.
"""

import logging

from whitenoise.storage import CompressedManifestStaticFilesStorage

logger = logging.getLogger(__name__)


class StaticFilesStorage(CompressedManifestStaticFilesStorage):
    """Hashed names from the manifest; the plain name for a file the manifest does not know."""

    _warned = False

    def stored_name(self, name: str) -> str:
        """The manifest's hashed name, or `name` itself when it was not collected."""
        try:
            return super().stored_name(name)
        except ValueError:  # no manifest yet, or a file added since the last collectstatic
            if not StaticFilesStorage._warned:
                StaticFilesStorage._warned = True
                logger.warning("static file %s is not collected: run `manage.py collectstatic`", name)
            return name
