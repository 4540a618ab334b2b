"""A minimal Django 5.2 project serving dj-stripe's webhook view, for ``bench/djstripe.py``.

It runs only inside the separate environment that benchmark creates (Django, dj-stripe and
their own ``stripe`` pin never enter this repository's lock); nothing here imports it.
"""
