"""Console services: the Qt-free domain operations the UI binds to."""
