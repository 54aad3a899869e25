"""Tests of the Python bridge and the worker fixtures (unittest, stdlib only).

Run from the repository root:

    /usr/bin/python3 -m unittest discover -s tests/python -t .

(PYTHONPATH=bridges/python:tests/fixtures/adapters is optional: the tests set
up sys.path themselves and pass PYTHONPATH to the processes they spawn.)
"""
