"""The Alembic revisions of the itms tables (branch label ``itms``), shipped with the package.

Add :data:`VERSION_LOCATION` to your Alembic ``version_locations``; with Flask-Migrate::

    from flask_itms.migrations import include_itms_revisions

    migrate = Migrate(app, db)
    migrate.configure(include_itms_revisions)

Then ``flask db upgrade heads`` creates or updates the itms tables beside your own.
"""

from __future__ import annotations

import os
import re
import typing as t

#: The folder holding the itms revisions.
VERSION_LOCATION = os.path.join(os.path.dirname(os.path.abspath(__file__)), "versions")


def include_itms_revisions(config: t.Any) -> t.Any:
    """Add the itms revisions to an Alembic ``Config``'s version locations (a Flask-Migrate hook).

    The locations are rewritten with ``path_separator = os``, the separator Alembic asks for.
    """
    current = config.get_main_option("version_locations")
    if current:
        separator = config.get_main_option("path_separator")
        if separator is None:  # Alembic's legacy form: split on spaces and commas
            locations = [part for part in re.split(r", *| +", current) if part]
        else:
            locations = [part.strip() for part in current.split(_SEPARATORS.get(separator, separator)) if part]
    else:
        locations = [os.path.join(config.get_main_option("script_location") or "", "versions")]
    if VERSION_LOCATION not in locations:
        locations.append(VERSION_LOCATION)
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", os.pathsep.join(locations))
    return config


_SEPARATORS = {"space": " ", "newline": "\n", "os": os.pathsep}
