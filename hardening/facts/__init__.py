"""Facts: collector pieces (``<area>.sh``) and the pure parsers of their output (``<area>.py``)."""
