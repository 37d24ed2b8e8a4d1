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


def test_the_filesystem_broker_keeps_its_control_files_under_var():
    from pathlib import Path

    product = importlib.import_module("itsm.settings")
    if not product.CELERY_BROKER_URL.startswith("filesystem://"):
        return  # a real broker (integration runs): no files at all
    options = product.CELERY_BROKER_TRANSPORT_OPTIONS
    assert Path(options["control_folder"]).parent == product.VAR_DIR / "broker"  # not ./control/
    assert Path(options["control_folder"]).is_dir()  # kombu creates only the last level itself
