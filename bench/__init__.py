"""The benchmark harness: seed a fresh PostgreSQL database, serve it with gunicorn, drive load, report.

Run it with `make bench` or `python -m bench --help`; see bench/README.md.
"""
