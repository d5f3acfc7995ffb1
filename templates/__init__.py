"""Report templates (Jinja2), installed as the package ``hardening.templates``.

This file only exists so that setuptools' editable install can map the top-level
``templates/`` folder to ``hardening.templates``: its editable finder resolves a
mapped package only through an ``__init__.py`` (a data-only folder is not importable
there, so ``importlib.resources.files("hardening.templates")`` would fail).
"""
