"""The local web page (``mdiff serve``): one page and a JSON API over the CLI's records.

``jobs`` turns a request body into the CLI's options and runs it (no web library);
``pool`` runs jobs in worker processes under a wall-clock limit; ``server`` is the
Starlette application and the ``mdiff serve`` command (the ``web`` extra).  The page and
its assets (KaTeX included) live in ``static/`` and ship with the package.
"""
