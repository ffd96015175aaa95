"""Experiment modules: ``python -m experiments.<name>`` (see each module's ``--help``)."""
