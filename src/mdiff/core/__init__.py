"""The core: expression nodes and their constructors (``expr``), the operation registry
(``ops``) and symbolic shapes (``shapes``).  Everything else is built on these."""
