"""What backend/gunicorn.conf.py plugs into gunicorn. Each module names the gunicorn internals it relies on,
and tests/serving/test_internals.py fails with a clear message when the installed gunicorn lacks one."""
