"""Integration tests against the real OpenHands server (see conftest.py and realserver/).

A package so that the tests and conftest.py can import the harness relatively
(``from .realserver import harness``) under any pytest import mode.
"""
