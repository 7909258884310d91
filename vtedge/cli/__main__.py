"""``python -m vtedge.cli``: what ``accelerate launch -m vtedge.cli train ...`` runs."""

from vtedge.cli import main

main()
