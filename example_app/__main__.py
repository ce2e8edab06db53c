"""``python -m example_app`` runs the demo (what ``make demo`` does)."""

from .demo import main

main()
