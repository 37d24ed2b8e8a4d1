"""Settings: the test switches come from the explicit test settings module, never from guessing."""

import importlib

from django.conf import settings


def test_tests_run_on_the_explicit_test_settings():
    assert settings.SETTINGS_MODULE == "itsm.settings_test"
    assert settings.TESTING is True


def test_the_product_settings_do_not_detect_pytest():
    # pytest is imported in this very process: the product's own module still says "not testing".
    product = importlib.import_module("itsm.settings")
    assert product.TESTING is False
    assert "LocMemCache" not in product.CACHES["default"]["BACKEND"]
