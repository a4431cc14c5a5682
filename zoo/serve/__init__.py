"""``zoo serve``: a local web app over the Python API (see zoo.serve.app)."""
